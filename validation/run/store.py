"""The seam between the run and storage: what the runner asks of a fact store.

The runner reads and writes facts and problems only through a :class:`FactStore`.
:class:`NullStore` remembers nothing (``--no-cache``); the content cache
(validation.cache.store.FactCache) is the store that does. The run never imports the
cache: the CLI opens one and hands it in.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from validation.config import Config
from validation.facts import RepoFacts
from validation.problems import Problem, Report


class FactKind(str, enum.Enum):
    """The kinds of file whose facts are loaded (and stored)."""

    DAG = "dag"
    IMPORTS = "imports"
    ROLE = "role"


@dataclass
class CachedProblems:
    """What the rules found in a file's facts, given the repository and rules they ran
    with: a warm run need not even read the facts back."""

    problems: list[Problem]
    import_seconds: float = 0.0  # of a DAG file, for --timings
    modules: list[str] = field(default_factory=list)  # the repository files it imported


class FactStore(Protocol):
    """Facts and problems of files, and whole reports, kept from one run to the next.
    Every ``get`` returns None when the store has nothing valid for the current inputs."""

    def get_facts(self, kind: FactKind, path: str) -> Any: ...

    def put_facts(self, kind: FactKind, path: str, facts: Any) -> bool:
        """Keep the facts; False when they must not be reused (a crash, a missing module),
        so that no whole report is kept either."""
        ...

    def checks(self, repo: RepoFacts, rule_ids: list[str]) -> str:
        """A digest of what problems depend on beside a file's facts ("" when unused)."""
        ...

    def get_problems(self, kind: FactKind, path: str, checks: str) -> CachedProblems | None: ...

    def put_problems(self, kind: FactKind, path: str, found: CachedProblems, facts: Any,
                     checks: str) -> None: ...

    def get_report(self, config: Config, repo: RepoFacts, listing: list[str]) -> Report | None:
        """The whole report of ``--all`` over ``listing``, if nothing changed."""
        ...

    def put_report(self, config: Config, repo: RepoFacts, listing: list[str], report: Report,
                   modules: set[str]) -> None: ...


class NullStore:
    """A store that keeps nothing: every run loads and checks every file."""

    def get_facts(self, kind: FactKind, path: str) -> Any:
        return None

    def put_facts(self, kind: FactKind, path: str, facts: Any) -> bool:
        return True

    def checks(self, repo: RepoFacts, rule_ids: list[str]) -> str:
        return ""

    def get_problems(self, kind: FactKind, path: str, checks: str) -> CachedProblems | None:
        return None

    def put_problems(self, kind: FactKind, path: str, found: CachedProblems, facts: Any,
                     checks: str) -> None:
        return None

    def get_report(self, config: Config, repo: RepoFacts, listing: list[str]) -> Report | None:
        return None

    def put_report(self, config: Config, repo: RepoFacts, listing: list[str], report: Report,
                   modules: set[str]) -> None:
        return None


class DeferredStore:
    """A store whose writes wait: reads go to ``store``, writes are kept until
    ``replay(into)`` (or dropped with it). The runner checks the role files while the DAG
    files' zygote starts, before it knows whether anything of the run may be kept."""

    def __init__(self, store: FactStore) -> None:
        self.store = store
        self.writes: list[Callable[[FactStore], object]] = []

    def get_facts(self, kind: FactKind, path: str) -> Any:
        return self.store.get_facts(kind, path)

    def put_facts(self, kind: FactKind, path: str, facts: Any) -> bool:
        self.writes.append(lambda into: into.put_facts(kind, path, facts))
        return True

    def checks(self, repo: RepoFacts, rule_ids: list[str]) -> str:
        return self.store.checks(repo, rule_ids)

    def get_problems(self, kind: FactKind, path: str, checks: str) -> CachedProblems | None:
        return self.store.get_problems(kind, path, checks)

    def put_problems(self, kind: FactKind, path: str, found: CachedProblems, facts: Any,
                     checks: str) -> None:
        self.writes.append(lambda into: into.put_problems(kind, path, found, facts, checks))

    def get_report(self, config: Config, repo: RepoFacts, listing: list[str]) -> Report | None:
        return self.store.get_report(config, repo, listing)

    def put_report(self, config: Config, repo: RepoFacts, listing: list[str], report: Report,
                   modules: set[str]) -> None:
        self.writes.append(lambda into: into.put_report(config, repo, listing, report, modules))

    def replay(self, into: FactStore) -> None:
        """Make the writes in ``into``, in their order."""
        writes, self.writes = self.writes, []
        for write in writes:
            write(into)
