"""Facts from the source text of a Python file, without running it (pure, no Airflow).

The DAG loader learns at import time which line created each DAG and task; the source
tells where on that line (or below it) the dag_id, task_id or role literal is, so a
problem can point at the literal rather than at the start of a long call.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections import Counter
from collections.abc import Iterator

from validation.facts import (
    CallSite,
    ErrorFacts,
    ImportedName,
    LiteralSite,
    ParseTimeCall,
    SourceFacts,
    Span,
    StringLiteral,
)
from validation.loaders.files import MAX_SOURCE_BYTES, Unreadable, read_bytes, text_digest

# Calls that compute a value at parse time: a start_date built from them moves every
# time the scheduler parses the file.
PARSE_TIME_CALLS = frozenset({"now", "utcnow", "today", "days_ago"})


def read_source(path: str) -> str | ErrorFacts:
    """The file's text, or an ErrorFacts saying why it cannot be read as Python source."""
    try:
        data = read_bytes(path, MAX_SOURCE_BYTES)
    except Unreadable as error:
        return ErrorFacts("OSError", str(error))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return ErrorFacts("SyntaxError", "SyntaxError: the file is not valid UTF-8 text", line, 0)


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_NODES = "_validation_nodes"  # where nodes() keeps a module's walk


def nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk(tree)``, walked once per module: the readers of a file's tree go over
    it a dozen times (a third of their time was walking). Trees are never changed after
    parsing, so the walk stays true. The tree keeps the nodes below it, not itself: a
    tree in its own list would be a reference cycle, garbage only the collector frees
    (collecting cost the validator 0.55 s of a 1,000-file run, now 0.35 s)."""
    below: list[ast.AST] | None = getattr(tree, _NODES, None)
    if below is None:
        below = list(ast.walk(tree))[1:]
        setattr(tree, _NODES, below)
    return itertools.chain((tree,), below)


def source_facts(text: str, filename: str = "<dag>") -> SourceFacts:
    """Parse ``text`` and collect call sites, parse-time start dates, imports and strings."""
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as error:
        line, column = error.lineno or 0, error.offset or 0
        if not line and "\0" in text:  # "cannot contain null bytes" comes without a line
            before = text[: text.index("\0")]
            line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        return SourceFacts(syntax_error=ErrorFacts(
            "SyntaxError", f"SyntaxError: {error.msg}", line, column))
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, deep nesting
        name = type(error).__name__
        return SourceFacts(syntax_error=ErrorFacts(name, f"{name}: {error}"))
    facts = SourceFacts(digest=text_digest(text))
    variables = _parse_time_variables(tree)
    start_dates: dict[tuple[int, int], ParseTimeCall] = {}
    literals = _Literals(tree, text)
    for node in nodes(tree):
        if isinstance(node, (ast.Call, *SCOPES)):
            _add_place(facts, node, literals)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            facts.imports.extend(_imported_modules(node))
            facts.imported_names.extend(_imported_names(node))
        start = _start_date_value(node)
        if start is not None:
            for call in _parse_time_calls(start, variables):
                start_dates[(call.line, call.column)] = call
    facts.calls.sort(key=lambda call: (call.line, call.column))
    facts.parse_time_start_dates = sorted(
        start_dates.values(), key=lambda call: (call.line, call.column))
    facts.imported_names.sort(key=lambda name: (name.line, name.column))
    facts.strings = _strings(tree)
    facts.pod_literals = pod_literals(tree)
    commas = _trailing_comma_tuples(tree, literals.text)
    facts.trailing_comma_tuples = [comma for comma, _ in commas]
    facts.trailing_comma_spans = [span for _, span in commas]
    facts.env_reads = _env_reads(tree)
    facts.bare_names = _bare_names(tree)
    return facts


def _env_reads(tree: ast.Module) -> list[tuple[str, int, int]]:
    """Environment variables read by a constant name: ``os.environ["X"]``,
    ``os.environ.get("X")``, ``os.getenv("X")``, at the name's string."""
    found = []
    for node in nodes(tree):
        name_node: ast.expr | None = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            name_node = node.slice
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            func = node.func
            if (func.attr == "get" and _is_environ(func.value)) or (
                    func.attr == "getenv" and isinstance(func.value, ast.Name)
                    and func.value.id == "os"):
                name_node = node.args[0]
        name = _constant_str(name_node)
        if name is not None and name_node is not None:
            found.append((name, name_node.lineno, name_node.col_offset + 1))
    return sorted(found, key=lambda item: (item[1], item[2]))


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _bare_names(tree: ast.Module) -> list[tuple[str, str, int, int]]:
    """Top-level ``target = name`` assignments (``username = alice``)."""
    found = []
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Name)):
            value = node.value
            found.append((node.targets[0].id, value.id, value.lineno, value.col_offset + 1))
    return found


def _add_place(facts: SourceFacts, node: ast.AST, literals: _Literals) -> None:
    """A call site, or the lines of a function, class or lambda."""
    if isinstance(node, ast.Call):
        facts.calls.append(_call_site(node, literals))
    elif isinstance(node, SCOPES):
        facts.scopes.append((node.lineno, node.end_lineno or node.lineno))


def _trailing_comma_tuples(tree: ast.Module, text: _Text
                           ) -> list[tuple[tuple[str, int, int], Span]]:
    """Assignments ``name = {...},`` whose value is a one-item tuple made by a trailing
    comma (no parentheses: the tuple starts where its item does): (name, line, column)
    of the comma, and the text to delete (the comma, and blanks before it on its line)."""
    found = []
    for node in nodes(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple)):
            continue
        items = node.value.elts
        if (len(items) == 1 and isinstance(items[0], (ast.Dict, ast.List))
                and (node.value.lineno, node.value.col_offset)
                == (items[0].lineno, items[0].col_offset)
                and items[0].end_lineno is not None and items[0].end_col_offset is not None):
            name = ast.unparse(node.targets[0]) if len(node.targets) == 1 else "the value"
            found.append(((name, items[0].end_lineno, items[0].end_col_offset + 1),
                          text.comma_span(items[0], node.value)))
    return sorted(found, key=lambda item: (item[0][1], item[0][2]))


def _call_site(node: ast.Call, literals: _Literals) -> CallSite:
    keywords = {
        kw.arg: (kw.value.lineno, kw.value.col_offset + 1) for kw in node.keywords if kw.arg
    }
    sites = {kw.arg: site for kw in node.keywords
             if kw.arg and (site := literals.site(kw.value)) is not None}
    return CallSite(node.lineno, node.end_lineno or node.lineno, node.col_offset + 1, keywords,
                    sites)


# -- where a fix can rewrite a literal (SourceFacts.trailing_comma_spans, CallSite.literals)

LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as Python's tokenizer counts lines
QUOTE = re.compile(r"[rRuUfFbB]*('''|\"\"\"|'|\")")


class _Text:
    """The source's lines, to turn the AST's positions (columns in UTF-8 bytes) into
    character positions."""

    def __init__(self, text: str) -> None:
        self.lines = LINE_BREAK.split(text)

    def column(self, line: int, offset: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "replace")) + 1

    def span(self, node: ast.expr) -> Span:
        end_line = node.end_lineno or node.lineno
        return Span(node.lineno, self.column(node.lineno, node.col_offset),
                    end_line, self.column(end_line, node.end_col_offset or 0))

    def quote(self, span: Span) -> str | None:
        line = self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else ""
        found = QUOTE.match(line, span.column - 1)
        return found.group(1) if found else None

    def comma_span(self, item: ast.expr, value: ast.expr) -> Span:
        """The trailing comma ending ``value``, with the blanks between it and ``item``
        when they are on one line."""
        end = self.span(value)
        after = self.span(item)
        start = (after.end_line, after.end_column) if after.end_line == end.end_line \
            else (end.end_line, end.end_column - 1)
        return Span(*start, end.end_line, end.end_column)


class _Literals:
    """Finds the literal that alone decides a keyword argument's value (LiteralSite)."""

    def __init__(self, tree: ast.Module, text: str) -> None:
        self.text = _Text(text)
        self.bound_once = _bound_once(tree)
        self.reads = Counter(node.id for node in nodes(tree)
                             if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))
        self.definitions = {
            statement.targets[0].id: statement.value for statement in tree.body
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in self.bound_once}

    def site(self, value: ast.expr) -> LiteralSite | None:
        variable = None
        if isinstance(value, ast.Name):
            if self.reads[value.id] != 1 or value.id not in self.definitions:
                return None  # read elsewhere too: changing it would change those
            variable, value = value.id, self.definitions[value.id]
        formatted = isinstance(value, ast.JoinedStr)
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)) \
                and not (formatted and self._constant_names_only(value)):
            return None
        span = self.text.span(value)
        quote = self.text.quote(span)
        text = None if formatted else getattr(value, "value", None)
        return LiteralSite(span, quote, variable, formatted, text) if quote else None

    def _constant_names_only(self, value: ast.expr) -> bool:
        """An f-string of names the module binds once (its value is known after import)."""
        return all(isinstance(node, (ast.JoinedStr, ast.Constant, ast.FormattedValue, ast.Load))
                   or (isinstance(node, ast.Name) and node.id in self.bound_once)
                   for node in ast.walk(value))


def _start_date_value(node: ast.AST) -> ast.expr | None:
    """The value given as start_date: a ``start_date=`` argument or a "start_date" key."""
    if isinstance(node, ast.Call):
        return next((kw.value for kw in node.keywords if kw.arg == "start_date"), None)
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value == "start_date":
                return value
    return None


def _parse_time_calls(value: ast.expr,
                      variables: dict[str, list[ParseTimeCall]] | None = None
                      ) -> list[ParseTimeCall]:
    """The parse-time calls in ``value``, and those in the assignments of the variables it
    names (``START = days_ago(1)`` ... ``start_date=START``)."""
    found = []
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in PARSE_TIME_CALLS:
                found.append(ParseTimeCall(name, node.lineno, node.col_offset + 1))
        elif isinstance(node, ast.Name) and variables:
            found.extend(variables.get(node.id, []))
    return found


def _parse_time_variables(tree: ast.AST) -> dict[str, list[ParseTimeCall]]:
    """Variables whose value comes from a parse-time call, directly or through other
    variables (``NOW = datetime.now()``, ``START = NOW - timedelta(days=1)``)."""
    assignments = [
        (target.id, node.value)
        for node in nodes(tree)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    ]
    found: dict[str, dict[tuple[int, int], ParseTimeCall]] = {}
    changed = True
    while changed:  # each pass follows one more level of variables; ends when none is new
        changed = False
        variables = {name: list(calls.values()) for name, calls in found.items()}
        for name, value in assignments:
            calls = found.setdefault(name, {})
            for call in _parse_time_calls(value, variables):
                if (call.line, call.column) not in calls:
                    calls[(call.line, call.column)] = call
                    changed = True
    return {name: list(calls.values()) for name, calls in found.items() if calls}


def _imported_modules(node: ast.Import | ast.ImportFrom) -> list[tuple[str, int]]:
    if isinstance(node, ast.Import):
        return [(alias.name, node.lineno) for alias in node.names]
    if node.level or not node.module:
        return []
    return [(node.module, node.lineno)]


def _imported_names(node: ast.Import | ast.ImportFrom) -> list[ImportedName]:
    if isinstance(node, ast.Import):
        return [ImportedName(alias.name, None, alias.lineno, alias.col_offset + 1)
                for alias in node.names]
    if node.level or not node.module:
        return []
    return [ImportedName(node.module, alias.name, alias.lineno, alias.col_offset + 1)
            for alias in node.names]


def _strings(tree: ast.AST) -> list[StringLiteral]:
    """Every string constant, with the name it is bound to where the source shows one."""
    names: dict[int, str] = {}
    for node in nodes(tree):
        for name, value in _bindings(node):
            if name is not None:
                names[id(value)] = name
    found = [
        StringLiteral(node.value, node.lineno, node.col_offset + 1, names.get(id(node)))
        for node in nodes(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    return sorted(found, key=lambda literal: (literal.line, literal.column))


def _bindings(node: ast.AST) -> list[tuple[str | None, ast.AST]]:
    """(name, value) pairs a node binds: assignments, keyword arguments, dict entries."""
    if isinstance(node, ast.Assign):
        return [(_target_name(target), node.value) for target in node.targets]
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return [(_target_name(node.target), node.value)]
    if isinstance(node, ast.keyword):
        return [(node.arg, node.value)]
    if isinstance(node, ast.Dict):
        return [(_constant_str(key), value) for key, value in zip(node.keys, node.values)]
    return []


def _target_name(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return _constant_str(target.slice)
    return None


def _constant_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


# -- pod settings as the source spells them (DAG010, DAG014, DAG015) ----------------------
# Used inside DAG workers by validation.loaders.dag.airflow_facts: the pod rules point at the
# literal that gave a setting its value, and need the role= argument that
# mojap-airflow-tools drops when a service account is set.

# Keyword arguments and dict keys whose constant values the pod rules look for.
POD_LITERAL_KEYS = frozenset({
    "environment", "cluster_context", "namespace", "hostnetwork", "host_network",
    "hostNetwork", "privileged", "allowPrivilegeEscalation", "allow_privilege_escalation",
    "runAsNonRoot", "run_as_non_root", "runAsUser", "run_as_user",
})
# Names and constants only: evaluating such an expression runs no code of the DAG.
SAFE_NODES = (ast.Constant, ast.Name, ast.Load, ast.JoinedStr, ast.FormattedValue)


def parse_quietly(text: str) -> ast.Module | None:
    """The module's AST, or None when it does not parse (the import reports that)."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def pod_literals(tree: ast.Module) -> list[tuple[str, object, int, int]]:
    """(key, value, line, column) of each constant given to a pod keyword argument or dict
    key (POD_LITERAL_KEYS), directly or through a name the module binds once to it
    (``ENV = "dev"`` ... ``environment=ENV`` gives the position of ``"dev"``), and
    ("", text, line, column) of each string that mentions ``environments/`` (docstrings
    and web links left out)."""
    found: list[tuple[str, object, int, int]] = []
    named = _named_constants(tree)
    prose = {id(node.value) for node in nodes(tree) if isinstance(node, ast.Expr)}
    for node in nodes(tree):
        pairs: list[tuple[object, ast.expr]] = []
        if isinstance(node, ast.Call):
            pairs = [(kw.arg, kw.value) for kw in node.keywords]
        elif isinstance(node, ast.Dict):
            pairs = [(key.value if isinstance(key, ast.Constant) else None, value)
                     for key, value in zip(node.keys, node.values)]
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and "environments/" in node.value and id(node) not in prose
              and not node.value.startswith(("http://", "https://"))):
            found.append(("", node.value, node.lineno, node.col_offset + 1))
        for key, value in pairs:
            if isinstance(value, ast.Name):
                value = named.get(value.id, value)
            if (key in POD_LITERAL_KEYS and isinstance(value, ast.Constant)
                    and isinstance(value.value, (str, int, float))):
                found.append((str(key), value.value, value.lineno, value.col_offset + 1))
    return sorted(set(found), key=lambda literal: (literal[2], literal[3], literal[0]))


def _named_constants(tree: ast.Module) -> dict[str, ast.Constant]:
    """Names the module binds once, to a constant, at the top level."""
    bound_once = _bound_once(tree)
    return {
        statement.targets[0].id: statement.value for statement in tree.body
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
        and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id in bound_once
    }


def argument_value(tree: ast.Module, line: int, keyword: str,
                   namespace: dict[str, object]) -> object:
    """The value of the ``keyword`` argument of the call made at ``line``, when the source
    shows it: a constant, or names (and f-strings of them) bound once at the top level of
    the module, read from the module's ``namespace`` after the import. None when it cannot
    be told without running code (a loop variable, a call, a name bound twice)."""
    expression = _keyword_expression(tree, line, keyword)
    if expression is None:
        return None
    bound_once = _bound_once(tree)
    for node in ast.walk(expression):
        if not isinstance(node, SAFE_NODES):
            return None
        if isinstance(node, ast.Name) and node.id not in bound_once:
            return None
    try:
        return eval(compile(ast.Expression(expression), "<argument>", "eval"), dict(namespace))
    except Exception:  # a name the namespace lacks, a value that cannot be formatted
        return None


def called_functions(tree: ast.Module, line: int) -> list[ast.expr]:
    """What the calls starting at ``line`` call (``f`` of ``f(...)``), outermost first."""
    calls = [node for node in nodes(tree) if isinstance(node, ast.Call) and node.lineno == line]
    return [call.func for call in sorted(calls, key=lambda node: node.col_offset)]


def _keyword_expression(tree: ast.Module, line: int, keyword: str) -> ast.expr | None:
    """As :func:`locate`: the call starting at ``line``, else the innermost spanning it."""
    spanning = [
        node for node in nodes(tree)
        if isinstance(node, ast.Call) and node.lineno <= line <= (node.end_lineno or node.lineno)
        and any(kw.arg == keyword for kw in node.keywords)
    ]
    starting = [node for node in spanning if node.lineno == line]
    candidates = starting or sorted(spanning, key=lambda node: (node.end_lineno or 0) - node.lineno)
    if not candidates:
        return None
    return next(kw.value for kw in candidates[0].keywords if kw.arg == keyword)


def _bound_once(tree: ast.Module) -> set[str]:
    """Names bound once, by a plain top-level assignment or import, and nowhere else (no
    loop, function or second assignment rebinds them): the value the module ends with is
    the value every call in it saw. Worked out once per module."""
    found: set[str] | None = getattr(tree, "_validation_bound_once", None)
    if found is None:
        found = _names_bound_once(tree)
        setattr(tree, "_validation_bound_once", found)
    return found


def _names_bound_once(tree: ast.Module) -> set[str]:
    top_level: dict[str, int] = {}
    assigned: set[str] = set()
    for statement in tree.body:
        for name, is_assignment in _plain_bindings(statement):
            top_level[name] = top_level.get(name, 0) + 1
            if is_assignment:
                assigned.add(name)
    stores: dict[str, int] = {}
    for node in nodes(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stores[node.id] = stores.get(node.id, 0) + 1
    return {name for name, count in top_level.items()
            if count == 1 and stores.get(name, 0) == (1 if name in assigned else 0)}


def _plain_bindings(statement: ast.stmt) -> list[tuple[str, bool]]:
    """(name, bound by assignment) for a top-level ``x = ...``, ``x: T = ...`` or import."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        return [(target.id, True)] if isinstance(target, ast.Name) else []
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [(statement.target.id, True)]
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [((alias.asname or alias.name).split(".")[0], False) for alias in statement.names]
    return []
