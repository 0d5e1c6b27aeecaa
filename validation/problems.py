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


@dataclass(frozen=True, order=True)
class Edit:
    """One change to the text of a file: the text from (line, column) up to, not including,
    (end_line, end_column) becomes ``replacement``. Lines and columns are 1-based, columns
    count characters; lines end at "\\n", "\\r\\n" or "\\r". ``digest`` is the SHA-256 of
    the file's text when the facts were read (validation.loaders.files.text_digest): the
    edit applies to that text only. ``create``: a new file whose text is ``replacement``
    (positions 0, digest ""), made only if nothing is at ``path``."""

    path: str  # repo-relative
    line: int
    column: int
    end_line: int
    end_column: int
    replacement: str
    digest: str
    create: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column,
                "replacement": self.replacement, "create": self.create}


@dataclass(frozen=True, order=True)
class Fix:
    """The one right mend of a problem, as plain data: edits of source text at positions
    the facts hold, applied together or not at all (validation.fix applies them)."""

    description: str  # what the fix does, e.g. "set dag_id to 'examples.write_to_s3'"
    edits: tuple[Edit, ...]

    def as_dict(self) -> dict[str, object]:
        return {"description": self.description,
                "edits": [edit.as_dict() for edit in self.edits]}


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
    fix: Fix | None = None  # the one right mend, when there is one (``--fix``)
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
    # Not compared: a problem is the same problem with or without its mend.
    fix: Fix | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "name": self.name,
            "level": self.level.value,
            "message": self.message,
            "fix": None if self.fix is None else self.fix.as_dict(),
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
    # Named files outside the places the layout covers (not under environments/ or
    # imports/): not checked, not counted, said to be skipped.
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the run went, for the summary
