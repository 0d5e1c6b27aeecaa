"""The run: paths -> routes -> facts -> rules -> problems.

Each path is checked by the structure rules, then by kind: DAG files and imports modules
are imported in supervised workers, role files are parsed and built with iam_builder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from validation.checks import check_facts
from validation.config import Config
from validation.facts import PathFacts, RepoFacts
from validation.loaders.dags import DagFileRequest, LoadSettings, load_python_files
from validation.loaders.paths import all_paths, resolve
from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.roles import load_role
from validation.problems import Problem
from validation.registry import Subject
from validation.routes import Kind


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    files: int = 0  # paths checked


def run(root: Path, raw_paths: list[str], *, everything: bool, config: Config,
        cwd: Path) -> Report:
    """Validate the named paths (and with ``everything``, every file the layout covers)."""
    repo = _repo(root, config)
    named = [resolve(root, raw, cwd) for raw in raw_paths]
    found = [resolve(root, path, root) for path in all_paths(root)] if everything else []
    paths = list({facts.path: facts for facts in named + found}.values())

    problems: list[Problem] = []
    for facts in paths:
        problems += check_facts(Subject.PATH, facts.path, facts, repo)
    checkable = [facts for facts in paths if _checkable(facts, config)]
    problems += _check_python(root, checkable, repo, config)
    problems += _check_roles(root, checkable, repo)
    return Report(sorted(set(problems)), len(paths))


def _repo(root: Path, config: Config) -> RepoFacts:
    return dataclasses.replace(scan_repo(root, config.environments),
                               settings=config.rule_settings())


def _checkable(facts: PathFacts, config: Config) -> bool:
    """Files past the structure checks that the content checkers can look at."""
    if not (facts.inside_root and facts.exists) or facts.is_dir:
        return False
    env = facts.route.env
    return env is None or env in config.environments


def _check_python(root: Path, paths: list[PathFacts], repo: RepoFacts,
                  config: Config) -> list[Problem]:
    dag_files = [
        DagFileRequest(p.path, p.route.env or "", p.route.project or "", p.route.name or "")
        for p in paths if p.route.kind is Kind.DAG
    ]
    modules = [(p.path, p.route.name or "") for p in paths if p.route.kind is Kind.IMPORTS_MODULE]
    settings = LoadSettings(timeout=config.dag_timeout, jobs=config.jobs)
    dags, imports = load_python_files(str(root), dag_files, modules, settings)
    problems: list[Problem] = []
    for path, dag_facts in dags.items():
        problems += check_facts(Subject.DAG, path, dag_facts, repo)
    for path, module_facts in imports.items():
        problems += check_facts(Subject.IMPORTS, path, module_facts, repo)
    return problems


def _check_roles(root: Path, paths: list[PathFacts], repo: RepoFacts) -> list[Problem]:
    roles = [path for path in paths if path.route.kind is Kind.ROLE]
    if roles:  # the cross-file role rules read the other roles and the DAG sources once
        repo = with_role_context(root, repo, [(p.route.env or "", p.route.name or "")
                                              for p in roles])
    problems: list[Problem] = []
    for path in roles:
        facts = load_role(root, path.path, path.route.env or "", path.route.name or "")
        problems += check_facts(Subject.ROLE, path.path, facts, repo)
    return problems
