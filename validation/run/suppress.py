"""Inline suppressions applied to one file's problems (pure: no files, no Airflow).

A suppression silences only the rules it names: on its own line, or in the whole file
for ``disable-file``. Each named rule that silenced nothing is handed back, so that STR009
can say so and suppressions do not outlive the problem they were written for.
"""

from __future__ import annotations

from collections.abc import Iterable

from validation.facts import Suppression
from validation.problems import INTERNAL_ERROR, Problem

# Problems that stop a file's other rules from running: with one of these, a suppression
# that silenced nothing may be waiting for a rule that never ran.
# A rule that failed (INTERNAL_ERROR) did not finish either.
BLOCKING = frozenset({"DAG001", "DAG002", "IMP003", "ROL001", "ROL002", INTERNAL_ERROR})
# The check on suppressions themselves, and the report of a rule that failed.
UNSUPPRESSIBLE = frozenset({"STR009", INTERNAL_ERROR})


def suppress(problems: Iterable[Problem], suppressions: list[Suppression],
             known: Iterable[str], runnable: frozenset[str]
             ) -> tuple[list[Problem], list[tuple[Suppression, str, str]]]:
    """The problems no suppression names, and each (suppression, code, reason) that did
    nothing: reason "empty", "unknown", "unsuppressible" or "unused". ``runnable`` are the
    rules that ran on this file; a suppression of a rule that did not run is not unused."""
    known = frozenset(known)
    kept, used = [], set()
    for problem in problems:
        hits = [(index, problem.rule) for index, found in enumerate(suppressions)
                if _silences(found, problem)]
        if hits:
            used.update(hits)
        else:
            kept.append(problem)
    blocked = any(problem.rule in BLOCKING for problem in kept)
    idle = []
    for index, found in enumerate(suppressions):
        if not found.codes:
            idle.append((found, "", "empty"))
        for code in found.codes:
            if code not in known:
                idle.append((found, code, "unknown"))
            elif code in UNSUPPRESSIBLE:
                idle.append((found, code, "unsuppressible"))
            elif (index, code) not in used and code in runnable and not blocked:
                idle.append((found, code, "unused"))
    return kept, idle


def _silences(found: Suppression, problem: Problem) -> bool:
    return (problem.rule in found.codes and problem.rule not in UNSUPPRESSIBLE
            and (found.whole_file or found.line == problem.line))
