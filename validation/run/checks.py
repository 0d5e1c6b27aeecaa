"""Run the registered rules of one subject over one file's facts and stamp the findings.

A rule that raises is a bug in the validator, not in the file: it becomes one VAL001
problem on that file naming the rule and the exception (as flake8 reports a plugin that
failed), and the run goes on with the other rules and files.

Rules look at every task; findings about tasks at the same place with the same message
(the tasks of a loop, or of a helper called on one line) are grouped into one problem
that names the first task and counts the others: "task 'load-0' ... (and 31 more tasks
here: 'load-1', ...)". A different problem of a task made on the same line
(a second pod of the helper with another image) stays a problem of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from validation.facts import RepoFacts
from validation.problems import (
    INTERNAL_ERROR,
    INTERNAL_ERROR_NAME,
    TASK,
    Finding,
    Fix,
    Level,
    Problem,
)
from validation.registry import FREE_REPO_FIELDS, Rule, Subject, all_rules


def check_facts(
    subject: Subject,
    path: str,
    facts: Any,
    repo: RepoFacts,
    rules: Iterable[Rule] | None = None,
) -> list[Problem]:
    """Every problem the rules of ``subject`` find in ``facts``, stamped with ``path``.

    Without ``rules``, the default rules run (opt-in rules such as DAG022 only run when
    passed explicitly).
    """
    selected = [rule for rule in all_rules().values() if rule.default] if rules is None else rules
    problems: list[Problem] = []
    for rule in selected:
        if rule.subject is subject:
            problems += _run_rule(rule, path, facts, repo)
    return sorted(problems)


NAMED_TASKS = 5  # task ids a grouped problem lists after the first


class UndeclaredRead(AttributeError):
    """A rule read a repository fact its @rule(reads=...) does not declare."""


class RepoView:
    """The repository facts a rule declared it reads (registry.Reads), and no others: so
    the declarations --changed-since follows cannot fall behind what the rules read."""

    def __init__(self, repo: RepoFacts, rule: Rule) -> None:
        self._repo = repo
        self._rule = rule
        self._allowed = FREE_REPO_FIELDS.union(*(reads.fields for reads in rule.reads))

    def __getattr__(self, name: str) -> Any:
        if name not in self._allowed and not name.startswith("__"):
            raise UndeclaredRead(f"{self._rule.id} reads RepoFacts.{name} but its @rule does "
                                 "not declare it in reads=")
        return getattr(self._repo, name)


def _run_rule(rule: Rule, path: str, facts: Any, repo: RepoFacts) -> list[Problem]:
    findings: list[Finding] = []
    found = []
    try:
        findings.extend(rule.check(facts, RepoView(repo, rule)))
    except Exception as error:  # a bug in the rule: reported on the file, the run goes on
        found.append(Problem(
            path=path, line=0, column=0, rule=INTERNAL_ERROR, name=INTERNAL_ERROR_NAME,
            level=Level.ERROR,
            message=f"rule {rule.id} ({rule.slug}) failed on this file: "
                    f"{type(error).__name__}: {error}. This is a bug in the validator, not "
                    "in your file: please report it (the other rules still ran)"))
    for group in group_findings(findings):
        line, column, level, message = group.key
        found.append(Problem(path=path, line=line, column=column, rule=rule.id,
                             name=rule.slug, level=level or rule.level,
                             message=task_message(message, group.tasks), fix=group.fix))
    return found


GroupKey = tuple[int, int, "Level | None", str]


@dataclass
class Group:
    """Findings with one (line, column, level, message): the tasks they name (each once;
    [] for findings about no task) and the fix, kept only for a group of one finding (the
    mend of one task is not the mend of the tasks made beside it)."""

    key: GroupKey
    tasks: list[str] = field(default_factory=list)
    findings: int = 0
    first_fix: Fix | None = None

    @property
    def fix(self) -> Fix | None:
        return self.first_fix if self.findings == 1 else None


def group_findings(findings: Iterable[Finding]) -> list[Group]:
    """Findings grouped by (line, column, level, message), in the order first found."""
    groups: dict[GroupKey, Group] = {}
    for finding in findings:
        key = (finding.line, finding.column, finding.level, finding.message)
        group = groups.setdefault(key, Group(key, first_fix=finding.fix))
        group.findings += 1
        if finding.task and finding.task not in group.tasks:
            group.tasks.append(finding.task)
    return list(groups.values())


def task_message(message: str, tasks: list[str]) -> str:
    """``message`` with TASK replaced by the first task and the others counted after it."""
    if TASK not in message:
        return message
    first = f"'{tasks[0]}'" if tasks else "(unnamed)"
    text = message.replace(TASK, first)
    others = tasks[1:]
    if not others:
        return text
    named = ", ".join(f"'{task}'" for task in others[:NAMED_TASKS])
    more = ", ..." if len(others) > NAMED_TASKS else ""
    noun = "task" if len(others) == 1 else "tasks"
    return f"{text} (and {len(others)} more {noun} here: {named}{more})"
