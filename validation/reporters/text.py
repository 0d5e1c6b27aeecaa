"""The terminal format: one line per problem, then the summary line; colours on a terminal.
A problem with a fix is marked ``[*]`` after its rule id, as ruff marks it."""

from __future__ import annotations

from collections.abc import Mapping

from validation.problems import Level, Problem, Report
from validation.reporters.base import Options, shown, summary_line

RESET, BOLD, RED, YELLOW, GREEN = "\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[32m"
LEVEL_COLOUR = {Level.ERROR: RED, Level.WARNING: YELLOW}


def use_colour(is_terminal: bool, env: Mapping[str, str]) -> bool:
    """Colour when stdout is a terminal, unless NO_COLOR is set (to anything but "", as
    no-color.org asks); FORCE_COLOR (non-empty) colours a pipe too. NO_COLOR wins."""
    if env.get("NO_COLOR"):
        return False
    return bool(env.get("FORCE_COLOR")) or is_terminal


def text(report: Report, options: Options = Options()) -> str:
    """One line per problem, ``path:line:col: RULE [slug] message``, then a summary line."""
    problems = shown(report.problems, options.quiet)
    lines = [_line(problem, options.colour) for problem in problems]
    lines.append(_paint(summary_line(report, quiet=options.quiet),
                        _summary_colour(report), options.colour))
    fixable = sum(problem.fix is not None for problem in problems)
    if fixable:
        lines.append(f"[*] {fixable} fixable with --fix (--diff shows the changes).")
    return "\n".join(lines) + "\n"


def _line(p: Problem, colour: bool) -> str:
    level = LEVEL_COLOUR.get(p.level, "")
    return (f"{_paint(p.path, BOLD, colour)}:{p.line}:{p.column}: "
            f"{_paint(p.rule, BOLD + level, colour)}{' [*]' if p.fix else ''} [{p.name}] "
            f"{p.message}"
            + ("" if p.level is Level.ERROR else _paint(" (warning)", level, colour)))


def _summary_colour(report: Report) -> str:
    levels = {problem.level for problem in report.problems}
    return RED if Level.ERROR in levels else YELLOW if levels else GREEN


def _paint(value: str, style: str, colour: bool) -> str:
    return f"{style}{value}{RESET}" if colour and style else value
