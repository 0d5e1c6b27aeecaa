"""What every reporter shares: the options the CLI hands over, and the summary counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from validation.problems import ChangedLines, Level, Problem, Report


@dataclass(frozen=True)
class Options:
    """How to render a report; the defaults give the plain output of a pipe."""

    colour: bool = False  # text: ANSI colours (the CLI decides: terminal, NO_COLOR)
    quiet: bool = False  # text and github: errors only, hidden warnings counted
    changed: ChangedLines | None = None  # github: annotate problems on these lines first
    # sarif: the text of each flagged line, (path, line) -> text, for fingerprints
    line_texts: Mapping[tuple[str, int], str] | None = None
    docs_url: str | None = None  # sarif: absolute URL of docs/rules.md, for helpUri


@dataclass(frozen=True)
class Summary:
    files: int
    skipped: int
    errors: int
    warnings: int
    rules: dict[str, int]  # rule id -> problems, in id order


def summarise(report: Report) -> Summary:
    levels = Counter(problem.level for problem in report.problems)
    rules = Counter(problem.rule for problem in report.problems)
    return Summary(report.files, len(report.skipped), levels[Level.ERROR], levels[Level.WARNING],
                   dict(sorted(rules.items())))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: Report, *, quiet: bool = False) -> str:
    """``Found 1 error, 2 warnings in 3 files (DAG005 x1, STR006 x2).`` or ``No problems
    in 3 files.``; with ``quiet``, how many warnings were not printed."""
    summary = summarise(report)
    checked = plural(summary.files, "file")
    if not report.problems:
        return f"No problems in {checked}.{skipped_note(report)}"
    found = f"{plural(summary.errors, 'error')}, {plural(summary.warnings, 'warning')}"
    by_rule = ", ".join(f"{rule} x{count}" for rule, count in summary.rules.items())
    line = f"Found {found} in {checked} ({by_rule}).{skipped_note(report)}"
    if quiet and summary.warnings:
        hidden = "warning" if summary.warnings == 1 else "warnings"
        line += f" {summary.warnings} {hidden} hidden by --quiet."
    return line


SKIPPED_SHOWN = 3  # names listed in the summary line; the rest are counted


def skipped_note(report: Report) -> str:
    """`` Skipped 1 file not under environments/ or imports/: README.md.`` ("" for none)."""
    if not report.skipped:
        return ""
    names = ", ".join(report.skipped[:SKIPPED_SHOWN])
    more = len(report.skipped) - SKIPPED_SHOWN
    names += f" and {more} more" if more > 0 else ""
    return (f" Skipped {plural(len(report.skipped), 'file')} not under environments/ or "
            f"imports/: {names}.")


def shown(problems: list[Problem], quiet: bool) -> list[Problem]:
    """The problems to print: all of them, or only the errors with ``quiet``."""
    return [p for p in problems if not quiet or p.level is Level.ERROR]
