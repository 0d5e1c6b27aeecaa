"""The rule registry: every rule's id, slug, level, subject and documentation in one place.

A rule is a plain function decorated with :func:`rule`. It takes the facts of one file
(and the repository facts for cross-file checks) and yields :class:`Finding` records; the
runner stamps them with the path, rule id and level. The function's docstring is the
rule's user documentation.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from validation.problems import Finding, Level


class Subject(str, enum.Enum):
    """Which facts a rule is given."""

    PATH = "path"  # every path named: validation.facts.PathFacts
    DAG = "dag"  # DAG files: validation.facts.DagFileFacts
    ROLE = "role"  # role files: validation.facts.RoleFacts
    IMPORTS = "imports"  # imports/ modules: validation.facts.ImportsModuleFacts
    SUPPRESSIONS = "suppressions"  # inline suppressions: validation.facts.SuppressionFacts


class Reads(str, enum.Enum):
    """What a cross-file rule reads of the repository beyond the file it is given: the
    fields of RepoFacts it may use (root, environments and settings are free to all).

    Declared in @rule(reads=...), and enforced: a rule that reads a field it did not
    declare raises (run/checks.py, so its tests fail with VAL001). ``--changed-since``
    derives from these declarations which files' results a change can alter
    (validation/vcs/dependents.py): there is no second list to keep.
    """

    ROLES = "roles"  # which role files exist in each environment
    PROJECTS = "projects"  # the project folders of each environment
    READMES = "readmes"  # the project folders with a README.md
    IMPORTS_INIT = "imports_has_init"  # whether imports/__init__.py exists
    ROLE_WRITES = "role_writes"  # every role file's S3 write paths
    ROLE_USERS = "role_users"  # the roles each environment's DAG files use

    @property
    def fields(self) -> tuple[str, ...]:
        """The RepoFacts fields this declaration lets a rule read."""
        also = {Reads.ROLE_USERS: ("role_undecided",), Reads.ROLES: ("role_other_files",)}
        return (self.value, *also.get(self, ()))


FREE_REPO_FIELDS = frozenset({"root", "environments", "settings"})

Check = Callable[[Any, Any], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    slug: str
    level: Level
    subject: Subject
    check: Check
    default: bool = True  # runs unless deselected; False: only when selected (opt-in)
    reads: frozenset[Reads] = frozenset()  # repository facts it reads (cross-file rules)

    @property
    def family(self) -> str:
        return self.id[:3]

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.check) or ""

    @property
    def fix_doc(self) -> str:
        """What ``--fix`` does for this rule (its docstring's "Fix:" paragraph), or ""."""
        for paragraph in self.doc.split("\n\n"):
            if paragraph.startswith("Fix:"):
                return " ".join(paragraph[len("Fix:"):].split())
        return ""

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.slug


RULES: dict[str, Rule] = {}


def rule(rule_id: str, slug: str, level: Level, subject: Subject, *,
         default: bool = True, reads: Iterable[Reads] = ()) -> Callable[[Check], Check]:
    """Register the decorated function as the check of rule ``rule_id``.

    ``default=False`` makes an opt-in rule: it runs only when selected in the
    configuration or on the command line. ``reads``: the repository facts a cross-file
    rule reads (Reads), the only ones it is given.
    """

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        RULES[rule_id] = Rule(rule_id, slug, level, subject, check, default, frozenset(reads))
        return check

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule, in id order (importing the rule modules registers them)."""
    import validation.rules  # noqa: F401  (registers the rules)

    return dict(sorted(RULES.items()))
