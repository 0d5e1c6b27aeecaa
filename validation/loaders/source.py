"""Facts from the source text of a Python file, without running it (pure, no Airflow).

The DAG loader learns at import time which line created each DAG and task; the source
tells where on that line (or below it) the dag_id, task_id or role literal is, so a
problem can point at the literal rather than at the start of a long call.
"""

from __future__ import annotations

import ast

from validation.facts import CallSite, ErrorFacts, ParseTimeCall, SourceFacts

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
    """Parse ``text`` and collect call sites, parse-time start dates and imports."""
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as error:
        return SourceFacts(syntax_error=ErrorFacts(
            "SyntaxError", f"SyntaxError: {error.msg}", error.lineno or 0, error.offset or 0))
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, deep nesting
        name = type(error).__name__
        return SourceFacts(syntax_error=ErrorFacts(name, f"{name}: {error}"))
    facts = SourceFacts()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.keywords:
            facts.calls.append(_call_site(node))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            facts.imports.extend(_imported_modules(node))
        start = _start_date_value(node)
        if start is not None:
            facts.parse_time_start_dates.extend(_parse_time_calls(start))
    facts.calls.sort(key=lambda call: (call.line, call.column))
    facts.parse_time_start_dates.sort(key=lambda call: (call.line, call.column))
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


def _parse_time_calls(value: ast.expr) -> list[ParseTimeCall]:
    found = []
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in PARSE_TIME_CALLS:
                found.append(ParseTimeCall(name, node.lineno, node.col_offset + 1))
    return found


def _imported_modules(node: ast.Import | ast.ImportFrom) -> list[tuple[str, int]]:
    if isinstance(node, ast.Import):
        return [(alias.name, node.lineno) for alias in node.names]
    if node.level or not node.module:
        return []
    return [(node.module, node.lineno)]


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
