"""The run: paths -> routes -> facts -> rules -> problems.

Each path is checked by the structure rules, then by kind: DAG files and imports modules
are imported in supervised workers, role files are parsed and built with iam_builder.
With a cache (Loading.cache_dir, validation.cache.store), facts and problems of unchanged
files are reused, and Airflow and iam_builder are imported only for files that are not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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
from validation.loaders.paths import all_paths, resolve
from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.suppressions import read_suppressions
from validation.problems import Problem, Report, Timing
from validation.registry import Rule, Subject, all_rules
from validation.routes import Kind
from validation.run.checks import check_facts
from validation.run.suppress import suppress

# Files whose comments may hold inline suppressions.
SUPPRESSIBLE = frozenset({Kind.DAG, Kind.ROLE, Kind.IMPORTS_MODULE, Kind.IMPORTS_INIT})


@dataclass
class Loading:
    """How the run loads facts: the content cache (validation.cache.store, None: no cache) and
    who is told about the progress of DAG imports (done, total, current file)."""

    cache_dir: Path | None = None
    key_file: Path | None = None  # the cache's signing key (default: the user's cache)
    progress: Callable[[int, int, str], None] | None = None
    cache: Any = None  # the open FactCache
    timings: list[Timing] = field(default_factory=list)
    complete: bool = True  # every file's facts could be cached (no crash ...)
    modules: set[str] = field(default_factory=set)  # repository files the DAGs imported


def run(root: Path, raw_paths: list[str], *, everything: bool, config: Config,
        cwd: Path, loading: Loading | None = None) -> Report:
    """Validate the named paths (and with ``everything``, every file the layout covers)."""
    loading = _open_loading(root, config, loading)
    repo = _repo(root, config)
    whole = _whole_run(root, everything and not raw_paths, config, repo, loading)
    if whole is not None and (cached := whole.get()) is not None:
        return cached
    rules = [rule for rule_id, rule in all_rules().items() if rule_id in enabled_rules(config)]
    named = [resolve(root, raw, cwd) for raw in raw_paths]
    found = [resolve(root, path, root) for path in all_paths(root)] if everything else []
    paths = list({facts.path: facts for facts in named + found}.values())

    problems: list[Problem] = []
    for facts in paths:
        problems += check_facts(Subject.PATH, facts.path, facts, repo, rules)
    checkable = [facts for facts in paths if _checkable(facts, config)]
    problems += _check_python(root, checkable, repo, config, rules, loading)
    problems += _check_roles(root, checkable, repo, rules, loading)
    problems = _selected(root, paths, problems, config, repo)
    report = Report(sorted(set(problems)), len(paths), loading.timings)
    if whole is not None and loading.complete:
        whole.put(report, loading.modules)
    return report


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
        found = [problem for problem in by_path.get(facts.path, []) if problem.rule in allowed]
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


def _check_python(root: Path, paths: list[PathFacts], repo: RepoFacts, config: Config,
                  rules: list[Rule], loading: Loading) -> list[Problem]:
    if not any(rule.subject in (Subject.DAG, Subject.IMPORTS) for rule in rules):
        return []  # no rule would look at the facts: do not import anything
    python = [p for p in paths if p.route.kind in (Kind.DAG, Kind.IMPORTS_MODULE)]
    problems, python, checks = _cached_problems(python, repo, rules, loading)
    dags, imports = _load_python(root, python, config, loading)
    for subject, kind, found in ((Subject.DAG, "dag", dags), (Subject.IMPORTS, "imports",
                                                              imports)):
        for path, facts in found.items():
            problems += _check(subject, kind, path, facts, repo, rules, loading, checks)
    return problems


def _check_roles(root: Path, paths: list[PathFacts], repo: RepoFacts,
                 rules: list[Rule], loading: Loading) -> list[Problem]:
    roles = [path for path in paths if path.route.kind is Kind.ROLE]
    if roles:  # the cross-file role rules read the other roles and the DAG sources once
        repo = with_role_context(root, repo, [(p.route.env or "", p.route.name or "")
                                              for p in roles])
    problems, roles, checks = _cached_problems(roles, repo, rules, loading)
    for path in roles:
        facts = _load_role(root, path, loading)
        problems += _check(Subject.ROLE, "role", path.path, facts, repo, rules, loading,
                           checks)
    return problems


# -- loading facts, through the cache -------------------------------------------------------


def _open_loading(root: Path, config: Config, loading: Loading | None) -> Loading:
    loading = loading or Loading()
    loading.timings, loading.complete, loading.modules = [], True, set()
    if loading.cache_dir is not None:
        from validation.cache.store import open_cache

        settings = {"dag_timeout": config.dag_timeout, "memory_limit_mb": config.memory_limit_mb,
                    "cpu_limit_seconds": config.cpu_limit_seconds,
                    "env_allowlist": list(config.env_allowlist),
                    "environments": list(config.environments)}
        loading.cache = open_cache(loading.cache_dir, root, settings, loading.key_file)
    return loading


KINDS = {Kind.DAG: "dag", Kind.IMPORTS_MODULE: "imports", Kind.ROLE: "role"}


def _whole_run(root: Path, everything: bool, config: Config, repo: RepoFacts,
               loading: Loading) -> Any:
    """The cache of the whole report, for ``--all`` alone (validation.cache.store.RunCache)."""
    if loading.cache is None or not everything:
        return None
    from validation.cache.store import RunCache

    return RunCache.inputs(loading.cache, config, repo, all_paths(root))


def _cached_problems(paths: list[PathFacts], repo: RepoFacts, rules: list[Rule],
                     loading: Loading) -> tuple[list[Problem], list[PathFacts], str]:
    """The problems the cache holds for files whose facts, repository facts and rules are
    unchanged, the files it has none for, and the digest of the repository facts and
    rules (validation.cache.store.checks_digest; "" without a cache)."""
    if loading.cache is None or not paths:
        return [], paths, ""
    from validation.cache.store import PROBLEMS, checks_digest

    checks = checks_digest(repo, [rule.id for rule in rules])
    problems: list[Problem] = []
    missing = []
    for path in paths:
        kind = KINDS[path.route.kind]
        found = loading.cache.get(kind + PROBLEMS, path.path, checks)
        if found is None:
            missing.append(path)
            continue
        problems += found.problems
        loading.modules.update(found.modules)
        if kind == "dag":
            loading.timings.append(Timing(path.path, found.import_seconds, True))
    return problems, missing, checks


def _check(subject: Subject, kind: str, path: str, facts: Any, repo: RepoFacts,
           rules: list[Rule], loading: Loading, checks: str) -> list[Problem]:
    """The problems of one file's facts, stored in the cache (under ``checks``, the digest
    of ``repo`` and ``rules``) for the next run."""
    problems = check_facts(subject, path, facts, repo, rules)
    if loading.cache is not None and checks:
        from validation.cache.store import PROBLEMS, CachedProblems

        seconds, modules = (facts.import_seconds, facts.imported_modules) if kind == "dag" \
            else (0.0, [])
        loading.cache.put(kind + PROBLEMS, path, CachedProblems(problems, seconds, modules),
                          facts, checks)
    return problems


def _load_python(root: Path, paths: list[PathFacts], config: Config, loading: Loading
                 ) -> tuple[dict[str, DagFileFacts], dict[str, ImportsModuleFacts]]:
    """Facts of the DAG files and imports modules among ``paths``: from the cache where
    it has them, else imported in workers (and then stored). Airflow is imported only
    when some file is not in the cache."""
    cache = loading.cache
    dags: dict[str, DagFileFacts] = {}
    imports: dict[str, ImportsModuleFacts] = {}
    dag_files, modules = [], []
    for p in paths:
        kind = KINDS.get(p.route.kind)
        found = cache.get(kind, p.path) if cache is not None and kind else None
        if found is not None:
            (dags if kind == "dag" else imports)[p.path] = found
        elif kind == "dag":
            dag_files.append((p.path, p.route.env or "", p.route.project or "",
                              p.route.name or ""))
        elif kind == "imports":
            modules.append((p.path, p.route.name or ""))
    loading.timings += [Timing(path, facts.import_seconds, True) for path, facts in dags.items()]
    loading.modules.update(module for facts in dags.values() for module in facts.imported_modules)
    if dag_files or modules:
        from validation.cache.store import cacheable
        from validation.loaders.dag.dags import DagFileRequest, LoadSettings, load_python_files

        settings = LoadSettings(timeout=config.dag_timeout, jobs=config.jobs,
                                memory_limit_mb=config.memory_limit_mb,
                                cpu_limit_seconds=config.cpu_limit_seconds,
                                env_allowlist=config.env_allowlist)
        new_dags, new_imports = load_python_files(
            str(root), [DagFileRequest(*request) for request in dag_files], modules, settings,
            loading.progress)
        loading.timings += [Timing(path, facts.import_seconds, False)
                            for path, facts in new_dags.items()]
        loading.modules.update(module for facts in new_dags.values()
                               for module in facts.imported_modules)
        if cache is not None:
            for kind, found in (("dag", new_dags), ("imports", new_imports)):
                for path, facts in found.items():
                    cache.put(kind, path, facts)
                    loading.complete = loading.complete and cacheable(kind, facts)
        dags.update(new_dags)
        imports.update(new_imports)
    return dags, imports


def _load_role(root: Path, path: PathFacts, loading: Loading) -> RoleFacts:
    cache = loading.cache
    facts = cache.get("role", path.path) if cache is not None else None
    if facts is None:
        from validation.loaders.roles import load_role

        facts = load_role(root, path.path, path.route.env or "", path.route.name or "")
        if cache is not None:
            cache.put("role", path.path, facts)
    return facts
