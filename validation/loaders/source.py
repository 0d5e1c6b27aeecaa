"""Facts from the source text of a Python file, without running it (pure, no Airflow).

The DAG loader learns at import time which line created each DAG and task; the source
tells where on that line (or below it) the dag_id, task_id or role literal is, so a
problem can point at the literal rather than at the start of a long call.
"""

from __future__ import annotations

import ast

from validation.facts import (
    CallSite,
    ErrorFacts,
    ImportedName,
    ParseTimeCall,
    SourceFacts,
    StringLiteral,
)

# Calls that compute a value at parse time: a start_date built from them moves every
# time the scheduler parses the file.
PARSE_TIME_CALLS = frozenset({"now", "utcnow", "today", "days_ago"})


def read_source(path: str) -> str | ErrorFacts:
    """The file's text, or an ErrorFacts saying why it cannot be read as Python source."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return ErrorFacts("OSError", f"cannot read the file: {error.strerror or error}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return ErrorFacts("SyntaxError", "SyntaxError: the file is not valid UTF-8 text", line, 0)


def source_facts(text: str, filename: str = "<dag>") -> SourceFacts:
    """Parse ``text`` and collect call sites, parse-time start dates, imports and strings."""
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as error:
        return SourceFacts(syntax_error=ErrorFacts(
            "SyntaxError", f"SyntaxError: {error.msg}", error.lineno or 0, error.offset or 0))
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, deep nesting
        name = type(error).__name__
        return SourceFacts(syntax_error=ErrorFacts(name, f"{name}: {error}"))
    facts = SourceFacts()
    variables = _parse_time_variables(tree)
    start_dates: dict[tuple[int, int], ParseTimeCall] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.keywords:
            facts.calls.append(_call_site(node))
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
    return facts


def _call_site(node: ast.Call) -> CallSite:
    keywords = {
        kw.arg: (kw.value.lineno, kw.value.col_offset + 1) for kw in node.keywords if kw.arg
    }
    return CallSite(node.lineno, node.end_lineno or node.lineno, node.col_offset + 1, keywords)


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
        for node in ast.walk(tree)
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
    for node in ast.walk(tree):
        for name, value in _bindings(node):
            if name is not None:
                names[id(value)] = name
    found = [
        StringLiteral(node.value, node.lineno, node.col_offset + 1, names.get(id(node)))
        for node in ast.walk(tree)
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


def locate(source: SourceFacts, line: int, keyword: str) -> tuple[int, int] | None:
    """Where the ``keyword`` argument of the call made at ``line`` is, if the source shows it.

    Prefers a call starting on that line; otherwise the innermost call spanning it.
    """
    if line <= 0:
        return None
    spanning = [
        call for call in source.calls
        if call.line <= line <= call.end_line and keyword in call.keywords
    ]
    starting = [call for call in spanning if call.line == line]
    candidates = starting or sorted(spanning, key=lambda call: call.end_line - call.line)
    return candidates[0].keywords[keyword] if candidates else None


def call_position(source: SourceFacts, line: int) -> tuple[int, int]:
    """The position of the first call starting at ``line`` (column 0 when there is none)."""
    return line, next((call.column for call in source.calls if call.line == line), 0)
