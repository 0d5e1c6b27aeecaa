"""The records that flow out of the rules and into the reporters: findings, problems
stamped with where they are, and the report of a run. Imports nothing of the package."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# The problem a rule that raised leaves on the file it was checking (run/checks.py). Not a
# rule: it cannot be deselected or suppressed, and it makes the exit status 3.
INTERNAL_ERROR = "VAL001"
INTERNAL_ERROR_NAME = "internal-error"


class Level(str, enum.Enum):
    """How serious a problem is: errors fail the run, warnings are reported only."""

    ERROR = "error"
    WARNING = "warning"


# Where a Finding's message names the task it is about (see Finding.task).
TASK = "<task>"


@dataclass(frozen=True)
class Finding:
    """What a rule yields: a message at a position in the file it was given.

    Line and column are 1-based; 0 means unknown. ``level`` overrides the rule's own level
    for rules whose severity depends on the case (DAG006 is an error for pod tasks only).
    A finding about one task names it in ``task`` and writes TASK in its message where
    the task id goes: findings of several tasks at the same place with the same message
    (the tasks of a loop or of a helper called on one line) become one problem naming
    them all (run/checks.py).
    """

    message: str
    line: int = 0
    column: int = 0
    level: Level | None = None
    task: str = ""


@dataclass(frozen=True, order=True)
class Problem:
    """A finding stamped by the runner with the file, rule and level it belongs to."""

    path: str
    line: int
    column: int
    rule: str
    name: str
    level: Level
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "name": self.name,
            "level": self.level.value,
            "message": self.message,
        }


ChangedLines = frozenset[tuple[str, int]]
"""(path, line) pairs a change touched; (path, 0) for every changed file."""


@dataclass
class Timing:
    """How long one DAG file took to import."""

    path: str  # a DAG file
    seconds: float  # to import it
    cached: bool  # the time measured by the run that stored its facts


@dataclass
class Report:
    """What a run found: the problems, how many paths were checked, the import times."""

    problems: list[Problem] = field(default_factory=list)
    files: int = 0  # paths checked
    timings: list[Timing] = field(default_factory=list)  # of the DAG files loaded
