"""Run the registered rules of one subject over one file's facts and stamp the findings.

A rule that raises is a bug in the validator, not in the file: it becomes one VAL001
problem on that file naming the rule and the exception (as flake8 reports a plugin that
failed), and the run goes on with the other rules and files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from validation.facts import RepoFacts
from validation.problems import INTERNAL_ERROR, INTERNAL_ERROR_NAME, Level, Problem
from validation.registry import Rule, Subject, all_rules


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


def _run_rule(rule: Rule, path: str, facts: Any, repo: RepoFacts) -> list[Problem]:
    found = []
    try:
        for finding in rule.check(facts, repo):
            found.append(Problem(path=path, line=finding.line, column=finding.column,
                                 rule=rule.id, name=rule.slug,
                                 level=finding.level or rule.level, message=finding.message,
                                 fix=finding.fix))
    except Exception as error:  # a bug in the rule: reported on the file, the run goes on
        found.append(Problem(
            path=path, line=0, column=0, rule=INTERNAL_ERROR, name=INTERNAL_ERROR_NAME,
            level=Level.ERROR,
            message=f"rule {rule.id} ({rule.slug}) failed on this file: "
                    f"{type(error).__name__}: {error}. This is a bug in the validator, not "
                    "in your file: please report it (the other rules still ran)"))
    return found
