"""Reporters turn a report into text. They return strings; only the CLI prints."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

from validation.problems import Level
from validation.runner import Report


@dataclass(frozen=True)
class Summary:
    files: int
    errors: int
    warnings: int
    rules: dict[str, int]  # rule id -> problems, in id order


def summarise(report: Report) -> Summary:
    levels = Counter(problem.level for problem in report.problems)
    rules = Counter(problem.rule for problem in report.problems)
    return Summary(report.files, levels[Level.ERROR], levels[Level.WARNING],
                   dict(sorted(rules.items())))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def text(report: Report) -> str:
    """One line per problem, ``path:line:col: RULE [slug] message``, then a summary line."""
    lines = [
        f"{p.path}:{p.line}:{p.column}: {p.rule} [{p.name}] {p.message}"
        + ("" if p.level is Level.ERROR else " (warning)")
        for p in report.problems
    ]
    summary = summarise(report)
    checked = _plural(summary.files, "file")
    if not report.problems:
        lines.append(f"No problems in {checked}.")
    else:
        found = f"{_plural(summary.errors, 'error')}, {_plural(summary.warnings, 'warning')}"
        by_rule = ", ".join(f"{rule} x{count}" for rule, count in summary.rules.items())
        lines.append(f"Found {found} in {checked} ({by_rule}).")
    return "\n".join(lines) + "\n"


def json_report(report: Report) -> str:
    """One JSON object: the problems and a summary."""
    document = {"problems": [p.as_dict() for p in report.problems],
                "summary": asdict(summarise(report))}
    return json.dumps(document, indent=2) + "\n"


FORMATS: dict[str, Callable[[Report], str]] = {"text": text, "json": json_report}
