"""The run: paths -> routes -> facts -> rules -> problems.

Each path is checked by the structure rules, then by kind: DAG files and imports modules
are imported in locked-down children of a zygote, role files are parsed and built with iam_builder.
With a cache (Loading.cache_dir, validation.cache.store), facts and problems of unchanged
files are reused, and Airflow and iam_builder are imported only for files that are not.
"""

from __future__ import annotations

import dataclasses
import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validation.config import Config, enabled_rules, ignored_in
from validation.facts import (
    DagFileFacts,
    ImportsModuleFacts,
    PathFacts,
    RepoFacts,
    RoleFacts,
    Suppression,
    SuppressionFacts,
)
from validation.loaders.dag.dags import DagFileRequest, Loading, Progress
from validation.loaders.paths import all_paths, resolve_all
from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.suppressions import read_suppressions
from validation.problems import INTERNAL_ERROR, Problem, Report, Timing
from validation.registry import Rule, Subject, all_rules
from validation.routes import Kind
from validation.run.checks import check_facts
from validation.run.store import (
    CachedProblems,
    DeferredStore,
    FactKind,
    FactStore,
    NullStore,
)
from validation.run.suppress import suppress

# Allocations between two young collections of the garbage collector during a run (Python's
# default is 700): the facts of a few thousand tasks are long-lived objects that each
# collection walked again, 0.3 s of a 300-file run's 1.9 s in this process.
GC_THRESHOLD = 20_000
# Files whose comments may hold inline suppressions.
SUPPRESSIBLE = frozenset({Kind.DAG, Kind.ROLE, Kind.IMPORTS_MODULE, Kind.IMPORTS_INIT})


@dataclass
class _Loaded:
    """What one run learnt while loading, for the report and the whole-report entry."""

    timings: list[Timing] = field(default_factory=list)
    complete: bool = True  # every file's facts could be stored (no crash ...)
    modules: set[str] = field(default_factory=set)  # repository files the DAGs imported
    notes: list[str] = field(default_factory=list)  # e.g. imports without kernel containment
    dags: dict[str, DagFileFacts] = field(default_factory=dict)  # DAG facts of this run


@dataclass
class _Run:
    """One run's inputs and state, passed to the steps below."""

    root: Path
    config: Config
    store: FactStore
    progress: Progress | None
    require_kernel: bool = False
    loaded: _Loaded = field(default_factory=_Loaded)
    importing: set[str] = field(default_factory=set)  # files this run imports (no store)

    def dag_facts(self, path: str) -> DagFileFacts | None:
        """The facts of a DAG file at its current content, if this run or the store has
        them (the roles its tasks really have count for ROL016)."""
        found = self.loaded.dags.get(path)
        if found is not None or path in self.importing:
            return found  # the store had none: that is why it is imported
        return self.store.get_facts(FactKind.DAG, path)


def run(root: Path, raw_paths: list[str], *, everything: bool, config: Config, cwd: Path,
        store: FactStore | None = None, progress: Progress | None = None,
        require_kernel: bool = False) -> Report:
    """Validate the named paths (and with ``everything``, every file the layout covers).
    ``store`` keeps facts and problems between runs (validation.cache; None: nothing is
    kept); ``progress`` is told about the DAG imports (done, total, current file); with
    ``require_kernel`` DAG files are not imported without kernel containment
    (loaders.dag.errors.LoaderError)."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_THRESHOLD), *threshold[1:])
    try:
        return _run(root, raw_paths, everything, config, cwd,
                    _Run(root, config, store or NullStore(), progress, require_kernel))
    finally:
        gc.set_threshold(*threshold)


def _run(root: Path, raw_paths: list[str], everything: bool, config: Config, cwd: Path,
         state: _Run) -> Report:
    repo = _repo(root, config)
    listing = all_paths(root) if everything and not raw_paths else None
    if listing is not None and (cached := state.store.get_report(config, repo, listing)):
        return cached
    rules = [rule for rule_id, rule in all_rules().items() if rule_id in enabled_rules(config)]
    named = resolve_all(root, raw_paths, cwd)
    listed = listing if listing is not None else all_paths(root) if everything else []
    found = resolve_all(root, listed, root)
    paths = list({facts.path: facts for facts in named + found}.values())
    # The imports start first: the zygote imports Airflow while the paths are checked
    # (the structure rules skip no DAG file or imports module, only unchecked ones).
    python = _start_python(state, [p for p in paths if _checkable(p, config)], repo, rules)
    try:
        problems: list[Problem] = []
        for facts in paths:
            problems += check_facts(Subject.PATH, facts.path, facts, repo, rules)
        paths, skipped = _skipped(paths, problems)
        checkable = [facts for facts in paths if _checkable(facts, config)]
        early = _check_roles_meanwhile(state, python, checkable, repo, rules)
        problems += _finish_python(state, python, repo, rules)
        problems += early if early is not None else _check_roles(state, checkable, repo, rules)
    finally:
        python.stop()
    problems = _selected(root, paths, problems, config, repo)
    report = Report(sorted(set(problems)), len(paths), state.loaded.timings, skipped,
                    list(state.loaded.notes))
    if listing is not None and state.loaded.complete:
        state.store.put_report(config, repo, listing, report, state.loaded.modules)
    return report


def _skipped(paths: list[PathFacts], problems: list[Problem]
             ) -> tuple[list[PathFacts], list[str]]:
    """The paths to check, and the named files outside the places the layout covers that
    no structure rule had anything to say about (a misspelt `environment/` folder is
    STR001, so it is checked): those are skipped, not counted as checked."""
    flagged = {problem.path for problem in problems}
    skipped = [facts.path for facts in paths if facts.inside_root and facts.exists
               and facts.route.kind is Kind.UNCHECKED and facts.path not in flagged]
    return [facts for facts in paths if facts.path not in skipped], sorted(skipped)


def _selected(root: Path, paths: list[PathFacts], problems: list[Problem], config: Config,
              repo: RepoFacts) -> list[Problem]:
    """The problems of the rules selected for each file (per_file_ignores) and not
    suppressed in it, with STR009 for suppressions that silenced nothing."""
    rules = all_rules()
    enabled = enabled_rules(config)
    by_path: dict[str, list[Problem]] = {}
    for problem in problems:
        by_path.setdefault(problem.path, []).append(problem)
    selected: list[Problem] = []
    for facts in paths:
        allowed = enabled - ignored_in(config, facts.path)
        found = [problem for problem in by_path.get(facts.path, [])
                 if problem.rule in allowed or problem.rule == INTERNAL_ERROR]
        suppressions = _suppressions(root, facts)
        if not suppressions:
            selected += found
            continue
        ran = allowed if _checkable(facts, config) else frozenset(
            rule_id for rule_id in allowed if rules[rule_id].subject is Subject.PATH)
        kept, idle = suppress(found, suppressions, rules, ran)
        selected += kept
        if "STR009" in allowed:
            selected += check_facts(Subject.SUPPRESSIONS, facts.path,
                                    SuppressionFacts(facts.path, idle), repo, [rules["STR009"]])
    return selected


def _suppressions(root: Path, facts: PathFacts) -> list[Suppression]:
    if not facts.inside_root or facts.route.kind not in SUPPRESSIBLE:
        return []
    path = root / facts.path
    return read_suppressions(str(path)) if path.is_file() else []


def _repo(root: Path, config: Config) -> RepoFacts:
    return dataclasses.replace(scan_repo(root, config.environments),
                               settings=config.rule_settings())


def _checkable(facts: PathFacts, config: Config) -> bool:
    """Files past the structure checks that the content checkers can look at."""
    if not (facts.inside_root and facts.exists) or facts.is_dir:
        return False
    env = facts.route.env
    return env is None or env in config.environments


@dataclass
class _Python:
    """The DAG files and imports modules of a run: the problems the store had for them,
    the facts it had, and the loading of the others, started so that the zygote imports
    Airflow while this process does the rest (reads their sources, checks the roles)."""

    problems: list[Problem] = field(default_factory=list)
    checks: str = ""  # the digest of the repository facts and rules (_stored_problems)
    dags: dict[str, DagFileFacts] = field(default_factory=dict)  # from the store
    imports: dict[str, ImportsModuleFacts] = field(default_factory=dict)
    loading: Loading | None = None
    deferred: DeferredStore | None = None  # what the role checks would store meanwhile

    def stop(self) -> None:
        if self.loading is not None:
            self.loading.stop()


def _start_python(state: _Run, paths: list[PathFacts], repo: RepoFacts,
                  rules: list[Rule]) -> _Python:
    """Problems and facts of the DAG files and imports modules the store has; the
    loading of the others, started. Airflow is imported only when some file is not in
    the store."""
    if not any(rule.subject in (Subject.DAG, Subject.IMPORTS) for rule in rules):
        return _Python()  # no rule would look at the facts: do not import anything
    python = [p for p in paths if p.route.kind in (Kind.DAG, Kind.IMPORTS_MODULE)]
    problems, python, checks = _stored_problems(state, python, repo, rules)
    started = _Python(problems, checks)
    dag_files, modules = [], []
    for p in python:
        kind = FACT_KINDS[p.route.kind]
        found = state.store.get_facts(kind, p.path)
        if found is not None:
            (started.dags if kind is FactKind.DAG else started.imports)[p.path] = found
            if kind is FactKind.DAG:
                state.loaded.dags[p.path] = found
        elif kind is FactKind.DAG:
            dag_files.append(DagFileRequest(p.path, p.route.env or "", p.route.project or "",
                                            p.route.name or ""))
        else:
            modules.append((p.path, p.route.name or ""))
    state.importing = {request.path for request in dag_files}
    if dag_files or modules:
        started.loading = Loading(str(state.root), dag_files, modules,
                                  state.config.load_settings(), state.config.jobs,
                                  state.progress, state.require_kernel)
    return started


def _check_roles_meanwhile(state: _Run, python: _Python, paths: list[PathFacts],
                           repo: RepoFacts, rules: list[Rule]) -> list[Problem] | None:
    """Check the role files while the zygote starts. What they would store waits until
    the DAG imports turn out to be kernel-contained: without, nothing is stored. None
    when a DAG file this run imports has roles its source does not decide: the roles
    its tasks really have decide ROL016 and ROL007's fix, so the roles wait for them."""
    if python.loading is None:
        return _check_roles(state, paths, repo, rules)
    context = _role_context(state, paths, repo)
    if context is not None and any(
            path in python.loading.work
            for files in (context.role_undecided or {}).values() for path in files):
        return None
    store = state.store
    state.store = python.deferred = DeferredStore(store)
    try:
        return _check_roles(state, paths, repo, rules, context)
    finally:
        state.store = store


def _finish_python(state: _Run, python: _Python, repo: RepoFacts,
                   rules: list[Rule]) -> list[Problem]:
    """Import the files the store had nothing for, checking each as its facts arrive
    (while the others import), then the files it had facts for."""
    problems = python.problems
    loaded = state.loaded
    if python.loading is not None:
        def on_containment(found: Any) -> None:
            if not found.kernel:
                # Results a file could have forged for others: said once, never stored.
                loaded.notes.append(f"DAG files were imported {found.describe()}")
                state.store = NullStore()

        def on_facts(kind: str, path: str, facts: Any) -> None:
            fact_kind = FactKind.DAG if kind == "dag" else FactKind.IMPORTS
            if fact_kind is FactKind.DAG:
                loaded.dags[path] = facts  # the roles its tasks have (state.dag_facts)
            loaded.complete = state.store.put_facts(fact_kind, path, facts) and loaded.complete
            problems.extend(_check(state, fact_kind, path, facts, repo, rules, python.checks))

        new_dags = python.loading.finish(on_containment, on_facts)[0]
        if python.deferred is not None:
            python.deferred.replay(state.store)  # a NullStore if the imports were weak
    else:
        new_dags = {}
    loaded.dags.update(python.dags)
    loaded.timings += [Timing(path, facts.import_seconds, True)
                       for path, facts in python.dags.items()]
    loaded.modules.update(module for facts in python.dags.values()
                          for module in facts.imported_modules)
    loaded.timings += [Timing(path, facts.import_seconds, False)
                       for path, facts in new_dags.items()]
    loaded.modules.update(module for facts in new_dags.values()
                          for module in facts.imported_modules)
    for kind, found in ((FactKind.DAG, python.dags), (FactKind.IMPORTS, python.imports)):
        for path, facts in found.items():
            problems += _check(state, kind, path, facts, repo, rules, python.checks)
    return problems


def _role_context(state: _Run, paths: list[PathFacts], repo: RepoFacts) -> RepoFacts | None:
    """``repo`` with what the cross-file role rules read (the other roles, the DAG
    sources and the facts this run or the store has), when role files are checked."""
    roles = [path for path in paths if path.route.kind is Kind.ROLE]
    if not roles:
        return None
    return with_role_context(state.root, repo, [(p.route.env or "", p.route.name or "")
                                                for p in roles], state.dag_facts)


def _check_roles(state: _Run, paths: list[PathFacts], repo: RepoFacts,
                 rules: list[Rule], context: RepoFacts | None = None) -> list[Problem]:
    roles = [path for path in paths if path.route.kind is Kind.ROLE]
    repo = context or _role_context(state, paths, repo) or repo
    problems, roles, checks = _stored_problems(state, roles, repo, rules)
    for path in roles:
        facts = _load_role(state, path)
        problems += _check(state, FactKind.ROLE, path.path, facts, repo, rules, checks)
    return problems


# -- loading facts, through the store ---------------------------------------------------

FACT_KINDS = {Kind.DAG: FactKind.DAG, Kind.IMPORTS_MODULE: FactKind.IMPORTS,
              Kind.ROLE: FactKind.ROLE}
SUBJECTS = {FactKind.DAG: Subject.DAG, FactKind.IMPORTS: Subject.IMPORTS,
            FactKind.ROLE: Subject.ROLE}


def _stored_problems(state: _Run, paths: list[PathFacts], repo: RepoFacts, rules: list[Rule]
                     ) -> tuple[list[Problem], list[PathFacts], str]:
    """The problems the store holds for files whose facts, repository facts and rules are
    unchanged, the files it has none for, and the digest of the repository facts and
    rules they were checked with."""
    if not paths:
        return [], paths, ""
    checks = state.store.checks(repo, [rule.id for rule in rules])
    problems: list[Problem] = []
    missing = []
    for path in paths:
        kind = FACT_KINDS[path.route.kind]
        found = state.store.get_problems(kind, path.path, checks)
        if found is None:
            missing.append(path)
            continue
        problems += found.problems
        state.loaded.modules.update(found.modules)
        if kind is FactKind.DAG:
            state.loaded.timings.append(Timing(path.path, found.import_seconds, True))
    return problems, missing, checks


def _check(state: _Run, kind: FactKind, path: str, facts: Any, repo: RepoFacts,
           rules: list[Rule], checks: str) -> list[Problem]:
    """The problems of one file's facts, stored (under ``checks``, the digest of ``repo``
    and ``rules``) for the next run."""
    problems = check_facts(SUBJECTS[kind], path, facts, repo, rules)
    seconds, modules = (facts.import_seconds, facts.imported_modules) \
        if kind is FactKind.DAG else (0.0, [])
    state.store.put_problems(kind, path, CachedProblems(problems, seconds, modules), facts,
                             checks)
    return problems


def _load_role(state: _Run, path: PathFacts) -> RoleFacts:
    facts = state.store.get_facts(FactKind.ROLE, path.path)
    if facts is None:
        from validation.loaders.roles import load_role  # imports iam_builder: only when needed

        facts = load_role(state.root, path.path, path.route.env or "", path.route.name or "")
        state.store.put_facts(FactKind.ROLE, path.path, facts)
    return facts
