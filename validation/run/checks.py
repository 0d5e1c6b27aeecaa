"""Run the registered rules of one subject over one file's facts and stamp the findings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from validation.facts import RepoFacts
from validation.problems import Problem
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
    problems = []
    for rule in selected:
        if rule.subject is not subject:
            continue
        for finding in rule.check(facts, repo):
            problems.append(
                Problem(
                    path=path,
                    line=finding.line,
                    column=finding.column,
                    rule=rule.id,
                    name=rule.slug,
                    level=finding.level or rule.level,
                    message=finding.message,
                )
            )
    return sorted(problems)
