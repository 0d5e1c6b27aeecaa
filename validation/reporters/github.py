"""The github format: GitHub Actions workflow commands, one annotation per problem.

``::error file=PATH,line=L,col=C,title=RULE [slug]::MESSAGE`` (``::warning`` for a
warning), escaped as the runner unescapes them. GitHub shows only 10 annotations of each
level per step, so the problems on lines the pull request changed come first; the step
summary (a Markdown table of every problem) says how many were not annotated.
"""

from __future__ import annotations

from validation.problems import ChangedLines, Level, Problem, Report
from validation.reporters.base import Options, plural, shown, summary_line

ANNOTATIONS_PER_LEVEL = 10  # what GitHub shows of each level in one step
SUMMARY_BUDGET = 900_000  # bytes of table; GitHub refuses a step summary over 1 MiB
_MARKDOWN_SPECIAL = set("\\`*_[]<>|&~")


def escape_data(value: str) -> str:
    """A workflow command's message, as the runner expects: ``%``, CR and LF encoded."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property value: as data, and ``:`` and ``,`` encoded too."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation_path(path: str) -> str:
    """The path as GitHub matches it to the diff: repo-relative, no leading ``./``."""
    while path.startswith("./"):
        path = path[2:]
    return path


def annotation(problem: Problem) -> str:
    """One workflow command; line and col are left out when unknown (0)."""
    command = "error" if problem.level is Level.ERROR else "warning"
    properties = [f"file={escape_property(annotation_path(problem.path))}"]
    if problem.line > 0:
        properties.append(f"line={problem.line}")
        if problem.column > 0:
            properties.append(f"col={problem.column}")
    properties.append(f"title={escape_property(f'{problem.rule} [{problem.name}]')}")
    return f"::{command} {','.join(properties)}::{escape_data(problem.message)}"


def on_changed_line(problem: Problem, changed: ChangedLines) -> bool:
    """On a changed line; a whole-file problem (line 0) counts when its file changed."""
    return (annotation_path(problem.path), problem.line) in changed


def ordered(problems: list[Problem], changed: ChangedLines | None) -> list[Problem]:
    """The problems on changed lines first, then the others, each in report order."""
    if not changed:
        return list(problems)
    first = [p for p in problems if on_changed_line(p, changed)]
    return first + [p for p in problems if not on_changed_line(p, changed)]


def github(report: Report, options: Options = Options()) -> str:
    """The annotations, changed lines first, then the plain summary line for the log."""
    problems = ordered(shown(report.problems, options.quiet), options.changed)
    lines = [annotation(problem) for problem in problems]
    lines.append(summary_line(report, quiet=options.quiet))
    return "\n".join(lines) + "\n"


def not_annotated(problems: list[Problem]) -> int:
    """How many problems GitHub drops: those beyond 10 of each level."""
    return sum(max(0, sum(p.level is level for p in problems) - ANNOTATIONS_PER_LEVEL)
               for level in Level)


def step_summary(report: Report, options: Options = Options()) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the summary line, every problem in a table, and
    how many were not annotated."""
    problems = ordered(shown(report.problems, options.quiet), options.changed)
    lines = ["## Validation", "", summary_line(report, quiet=options.quiet), ""]
    if not problems:
        return "\n".join(lines)
    lines += ["| rule | level | location | message |", "|---|---|---|---|"]
    size, left_out = 0, 0
    for problem in problems:
        row = _row(problem)
        size += len(row.encode("utf-8")) + 1
        if size > SUMMARY_BUDGET:
            left_out += 1
        else:
            lines.append(row)
    if left_out:
        lines += ["", f"{plural(left_out, 'more problem')} not listed: the step summary "
                  "is limited to 1 MiB (run the validator locally to see them all)."]
    dropped = not_annotated(problems)
    if dropped:
        lines += ["", f"{plural(dropped, 'problem')} not shown as annotations: GitHub shows "
                  f"{ANNOTATIONS_PER_LEVEL} errors and {ANNOTATIONS_PER_LEVEL} warnings "
                  "per step (those on changed lines first)."]
    return "\n".join(lines) + "\n"


def _row(problem: Problem) -> str:
    location = annotation_path(problem.path)
    if problem.line > 0:
        location += f":{problem.line}" + (f":{problem.column}" if problem.column > 0 else "")
    cells = (f"{problem.rule} {problem.name}", problem.level.value, location, problem.message)
    return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"


def markdown_cell(value: str) -> str:
    """Text that stays one table cell and renders as itself: Markdown and HTML characters
    backslash-escaped (``|`` included), line breaks as ``<br>``."""
    escaped = "".join(f"\\{char}" if char in _MARKDOWN_SPECIAL else char for char in value)
    return "<br>".join(escaped.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
