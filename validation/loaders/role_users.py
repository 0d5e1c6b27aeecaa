"""Which roles a DAG file uses, decided from facts, never from a text search.

The answer for one file is the set of role names its tasks may run with, or None when it
cannot be decided. Two readings count, the second only when the first cannot decide:

- a static reading of its source and of the imports/ modules it imports: every value given
  to ``role=`` or ``service_account_name=``, to a dict key or subscript
  ``"iam.amazonaws.com/role"``, evaluated from string literals, f-strings, ``+`` and the
  names the module binds once at the top level (or imports from imports/), as the user
  guide writes ``ROLE = f"airflow_dev_{username}_example"``. A helper's parameter counts
  with its default and every value the file's calls of the helper pass it;
- the facts of the file when the run has them (it imported the file, or the cache holds
  its facts at its current content) and the import worked: the role each task really has
  (the annotation, or the service account with "-" for "_").

The static reading gives up (Undecided) on a value it cannot evaluate: a call, a name
bound twice or in a loop, a file that does not parse, a missing module. Then the facts
alone decide, and without them the answer is None: whoever asks must assume the file may
use any role (``--changed-since`` re-checks it, ROL016 stays silent). The static reading
is what ``--changed-since`` has (validation/vcs/dependents.py: it imports nothing), so
the run and the selection agree on every file it decides.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from validation.facts import DagFileFacts
from validation.loaders.files import read_text
from validation.loaders.source import nodes

ROLE_KEYWORDS = frozenset({"role", "service_account_name"})
ROLE_ANNOTATION = "iam.amazonaws.com/role"  # the pod annotation naming its IAM role
ROLE_KEYS = frozenset({ROLE_ANNOTATION, "role", "service_account_name"})
IMPORTS_STRING = re.compile(r"imports\.(\w+)")
MAX_DEPTH = 50  # nesting of the expressions evaluated (f-strings of f-strings ...)

Roles = frozenset[str] | None
ModuleText = Callable[[str], str | None]  # "imports/x.py" -> its source, or None


class Undecided(Exception):
    """A role value the static reading cannot evaluate."""


def fact_roles(facts: DagFileFacts | None) -> Roles:
    """The roles the tasks of an imported DAG file run with; None without facts or when
    the import failed (the tasks it would make are unknown)."""
    if facts is None or facts.import_error is not None or facts.crash is not None:
        return None
    return frozenset(task.role for dag in facts.dags for task in dag.tasks if task.role)


FactsOf = Callable[[str], "DagFileFacts | None"]  # a DAG file's facts, if a run has them


def file_roles(root: Path, path: str, facts_of: FactsOf | None = None) -> Roles:
    """The roles the DAG file at ``path`` uses: what its source shows (the file as it is
    now), else, when the source does not decide, what its facts show
    (``facts_of(path)``, asked only then); None when neither decides. The source decides
    first, as it does for ``--changed-since`` (validation/vcs/dependents.py), so the run
    and the selection agree on every file it decides, whatever facts a run holds."""
    source = read_text(root / path)
    static = None if source is None else static_roles(source, lambda p: read_text(root / p))
    if static is not None or facts_of is None:
        return static
    return fact_roles(facts_of(path))


def static_roles(text: str, module_text: ModuleText) -> Roles:
    """The role names the source gives its tasks, read without running it; None when
    some value cannot be evaluated."""
    try:
        return frozenset(ModuleReader(text, module_text, frozenset(), {}).roles())
    except Undecided:
        return None


def service_account_role(value: str, keyword: str | None) -> str:
    """A service account names its role with "-" for "_"."""
    return value.replace("-", "_") if keyword == "service_account_name" else value


class ModuleReader:
    """One module's source: its constants, and the role values it gives."""

    def __init__(self, text: str, module_text: ModuleText, seen: frozenset[str],
                 readers: dict[str, ModuleReader]) -> None:
        self.readers = readers  # the imports/ modules read so far, shared
        try:
            self.tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise Undecided from None
        self.module_text, self.seen = module_text, seen
        self.bindings = _module_bindings(self.tree)
        self.modules = _imported_modules(self.tree)  # local name -> imports/ module file
        self.from_imports = _from_imports(self.tree)  # local name -> (module file, name)
        self.functions = {node.name: node for node in self.tree.body
                          if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.parents = {id(child): node for node in nodes(self.tree)
                        for child in ast.iter_child_nodes(node)}
        self.cache: dict[str, str] = {}

    def roles(self) -> Iterator[str]:
        for keyword, value in _role_values(self.tree):
            for found in self.values(value):
                yield service_account_role(found, keyword)
        for module in sorted({*self.modules.values(), *(m for m, _ in self.from_imports.values()),
                              *_named_modules(self.tree)}):
            yield from self.reader(module).roles()

    def reader(self, module: str) -> ModuleReader:
        if module in self.seen:
            raise Undecided  # modules importing each other
        if module not in self.readers:
            text = self.module_text(module)
            if text is None:
                raise Undecided  # the module is missing: the DAG does not import
            self.readers[module] = ModuleReader(text, self.module_text,
                                                self.seen | {module}, self.readers)
        return self.readers[module]

    # -- evaluation -------------------------------------------------------------------

    def values(self, node: ast.expr, depth: int = 0) -> list[str]:
        """Every string ``node`` may evaluate to."""
        if depth > MAX_DEPTH:
            raise Undecided
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) \
                and not isinstance(node.value, bool):
            return [str(node.value)]
        if isinstance(node, ast.JoinedStr):
            parts = [self._formatted(part, depth) for part in node.values]
            return _products(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _products([self.values(node.left, depth + 1),
                              self.values(node.right, depth + 1)])
        if isinstance(node, ast.Name):
            return self._name(node, depth)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in self.modules:
            return self.reader(self.modules[node.value.id]).constant(node.attr, depth)
        raise Undecided

    def _formatted(self, part: ast.expr, depth: int) -> list[str]:
        if isinstance(part, ast.FormattedValue):
            if part.format_spec is not None or part.conversion not in (-1, ord("s")):
                raise Undecided
            return self.values(part.value, depth + 1)
        return self.values(part, depth + 1)

    def _name(self, node: ast.Name, depth: int) -> list[str]:
        function = self._enclosing_function(node)
        if function is not None and node.id in _parameters(function):
            return self._parameter(function, node.id, depth)
        if node.id in self.from_imports:
            module, name = self.from_imports[node.id]
            return self.reader(module).constant(name, depth)
        return self.constant(node.id, depth)

    def constant(self, name: str, depth: int) -> list[str]:
        """The value of a name the module binds once at the top level."""
        if name in self.from_imports and name not in self.bindings:
            module, original = self.from_imports[name]
            return self.reader(module).constant(original, depth + 1)
        value = self.bindings.get(name)
        if value is None:
            raise Undecided  # bound twice, in a loop, by a call ... or not at all
        return self.values(value, depth + 1)

    def _parameter(self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str,
                   depth: int) -> list[str]:
        """A helper's parameter: its default and what each call of the helper passes."""
        if self.functions.get(function.name) is not function:
            raise Undecided  # a method, or a function inside a function
        arguments = function.args
        positional = [arg.arg for arg in (*arguments.posonlyargs, *arguments.args)]
        found: list[str] = []
        default = _default(function, name)
        if default is not None:
            found += self.values(default, depth + 1)
        for use in nodes(self.tree):
            if not (isinstance(use, ast.Name) and use.id == function.name):
                continue
            call = self.parents.get(id(use))
            if not (isinstance(call, ast.Call) and call.func is use):
                raise Undecided  # the helper is passed around: its callers are unknown
            found += self._passed(call, name, positional, depth)
        return found

    def _passed(self, call: ast.Call, name: str, positional: list[str],
                depth: int) -> list[str]:
        if any(isinstance(arg, ast.Starred) for arg in call.args) or \
                any(keyword.arg is None for keyword in call.keywords):
            raise Undecided  # *args or **kwargs may pass it
        for keyword in call.keywords:
            if keyword.arg == name:
                return self.values(keyword.value, depth + 1)
        index = positional.index(name) if name in positional else len(call.args)
        return self.values(call.args[index], depth + 1) if index < len(call.args) else []

    def _enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        parent = self.parents.get(id(node))
        while parent is not None:
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return parent
            if isinstance(parent, (ast.Lambda, ast.ClassDef)):
                return None
            parent = self.parents.get(id(parent))
        return None


def _products(parts: list[list[str]]) -> list[str]:
    results = [""]
    for options in parts:
        results = [done + option for done in results for option in options]
        if len(results) > 1000:
            raise Undecided
    return results


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    arguments = function.args
    names = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    if arguments.vararg:
        names.append(arguments.vararg)
    if arguments.kwarg:
        names.append(arguments.kwarg)
    return {arg.arg for arg in names}


def _default(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = dict(zip([arg.arg for arg in positional[len(positional)
                                                       - len(arguments.defaults):]],
                        arguments.defaults))
    defaults.update({arg.arg: value for arg, value in
                     zip(arguments.kwonlyargs, arguments.kw_defaults) if value is not None})
    return defaults.get(name)


def _role_values(tree: ast.Module) -> Iterator[tuple[str | None, ast.expr]]:
    """(keyword, value) of each expression the source gives a task's role: role= and
    service_account_name= arguments, and dict keys or subscripts naming the role."""
    for node in nodes(tree):
        if isinstance(node, ast.Call):
            yield from ((k.arg, k.value) for k in node.keywords if k.arg in ROLE_KEYWORDS)
        elif isinstance(node, ast.Dict):
            yield from ((_role_key(key), value) for key, value in zip(node.keys, node.values)
                        if _role_key(key))
        elif isinstance(node, ast.Assign):
            yield from ((_role_key(target.slice), node.value) for target in node.targets
                        if isinstance(target, ast.Subscript) and _role_key(target.slice))


def _role_key(key: ast.expr | None) -> str | None:
    """The key, when it is a constant naming a task's role."""
    return str(key.value) if isinstance(key, ast.Constant) and key.value in ROLE_KEYS else None


def _module_bindings(tree: ast.Module) -> dict[str, ast.expr]:
    """The names bound exactly once in the module, by a plain top-level assignment."""
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for node in nodes(tree):
        for name in _bound_names(node):
            counts[name] = counts.get(name, 0) + 1
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            values[statement.targets[0].id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
                and statement.value is not None:
            values[statement.target.id] = statement.value
    return {name: value for name, value in values.items() if counts.get(name) == 1}


def _bound_names(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield node.id
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.alias):
        yield (node.asname or node.name).split(".")[0]
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names


def _imported_modules(tree: ast.Module) -> dict[str, str]:
    """``import imports.x as m``: m -> imports/x.py."""
    found = {}
    for node in nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "imports" and len(parts) == 2 and alias.asname:
                    found[alias.asname] = f"imports/{parts[1]}.py"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "imports":
            for alias in node.names:
                found[alias.asname or alias.name] = f"imports/{alias.name}.py"
    return found


def _named_modules(tree: ast.Module) -> set[str]:
    """Modules named in a string, as ``importlib.import_module("imports.x")`` does."""
    return {f"imports/{match.group(1)}.py" for node in nodes(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and (match := IMPORTS_STRING.fullmatch(node.value.strip()))}


def _from_imports(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """``from imports.x import A as B``: B -> (imports/x.py, A)."""
    found = {}
    for node in nodes(tree):
        if isinstance(node, ast.ImportFrom) and node.level in (0, 1) and node.module:
            parts = node.module.split(".")
            if node.level == 1:
                parts = ["imports", *parts]
            if parts[0] == "imports" and len(parts) == 2:
                for alias in node.names:
                    found[alias.asname or alias.name] = (f"imports/{parts[1]}.py", alias.name)
    return found
