"""Which files' results depend on a changed file (``--changed-since``), derived from what
the rules declare they read, read from the sources without importing anything.

A file is re-checked when its result may differ from the one it had at the base commit,
whichever way: an error that goes away is re-checked too, and then shows nothing.

Two kinds of dependency:

- **what a file's facts are made of**: a DAG file's or imports/ module's facts come from
  its own source and the imports/ modules it imports (the AST, functions included, and
  strings such as ``"imports.x"``); so a changed imports/ module re-checks its importers,
  and imports/__init__.py every module and every DAG importing from imports;
- **what a cross-file rule reads** of the repository: each rule declares it in
  ``@rule(reads=...)`` (validation/registry.py, ``Reads``). A change is turned into the
  repository facts it changes (below), and every rule reading that fact has the files
  of its subject re-checked that the change can reach: its scope, narrowed where the
  fact says who can see it, else every file of that subject. A new cross-file rule is
  followed as soon as it declares what it reads, and it cannot read what it did not
  declare (validation/run/checks.py).

What a change changes, and who can see it:

- ROLES, a role file added or deleted (or one ending .yml or .json, which DAG007 names):
  the DAG files of any env that use the role (or may: their roles cannot be decided),
  and, in its env, those of the project its name names using a role of another project
  or a missing one (DAG021's and DAG007's hints);
- ROLE_WRITES, a role file's write paths: the other environments' roles whose write
  paths overlap them, before or after;
- ROLE_USERS, a DAG file or imports/ module: the roles, before and after, of the DAG files
  it reaches (itself, its importers), i.e. those role files and those whose iam_role_name
  names one (ROL007's fix); all of the env's when some DAG's roles cannot be decided;
- PROJECTS, a project folder appearing or going (with any file in it, a README too): the
  imports/ modules named after it or after no project (IMP001 and IMP002 list the
  projects), and the DAG files importing those named after it;
- READMES, a project's README.md: the project's files;
- IMPORTS_INIT, imports/__init__.py appearing or going: the files under imports/.

Which roles a DAG uses is validation.loaders.role_users' static reading (constants,
f-strings, helpers' parameters), the same ROL016 uses. Not followed: imports spelt at
run time in other ways, and a DAG file importing another DAG file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from validation.loaders.files import read_text
from validation.loaders.paths import all_paths
from validation.loaders.repo import WRITE_ACCESS, yaml_loader
from validation.loaders.role_users import Roles, static_roles
from validation.registry import Reads, Subject, all_rules
from validation.routes import Kind, route
from validation.s3 import globs_overlap, normal_path
from validation.vcs.git import GitError, git, old_text

INIT = "imports/__init__.py"
PYTHON = (Kind.DAG, Kind.IMPORTS_MODULE, Kind.IMPORTS_INIT)
IMPORTS_STRING = re.compile(r"imports\.(\w+)")
PROJECT_FOLDER = re.compile(r"environments/(?P<env>[^/]+)/dags/(?P<project>[^/]+)(?=/)")
SUBJECT_KINDS = {Subject.DAG: (Kind.DAG,), Subject.ROLE: (Kind.ROLE,),
                 Subject.IMPORTS: (Kind.IMPORTS_MODULE,)}  # PATH, SUPPRESSIONS: every file


@dataclass(frozen=True)
class Source:
    """A DAG file or imports/ module as it is now."""

    path: str
    kind: Kind
    env: str | None
    project: str | None
    text: str
    imports: frozenset[str]  # the imports/ files it imports (imports/__init__.py included)


@dataclass(frozen=True)
class Change:
    """A repository fact a change altered: which fact, in which environment (None: all),
    and its detail (a role stem, a project, the S3 write paths ...)."""

    reads: Reads
    env: str | None
    detail: Any = None


@dataclass
class Repository:
    """The sources and role files of the working tree, read once."""

    root: Path
    base: str
    paths: list[str]
    sources: dict[str, Source]
    roles: dict[str, dict[str, str]]  # env -> role stem -> path
    usage: dict[str, Roles] = field(default_factory=dict)  # DAG file -> its roles now

    @classmethod
    def read(cls, root: Path, base: str) -> Repository:
        paths = all_paths(root)
        sources: dict[str, Source] = {}
        roles: dict[str, dict[str, str]] = {}
        for path in paths:
            where = route(path)
            if where.kind in PYTHON:
                text = read_text(root / path) or ""
                sources[path] = Source(path, where.kind, where.env, where.project, text,
                                       imported_files(text, inside_imports=where.env is None))
            elif where.kind is Kind.ROLE and where.env and where.name:
                roles.setdefault(where.env, {})[where.name] = path
        return cls(root, base, paths, sources, roles)

    def importers(self, targets: Iterable[str]) -> set[str]:
        """The sources importing any of ``targets``, directly or through imports/ modules."""
        found: set[str] = set()
        todo = list(targets)
        while todo:
            target = todo.pop()
            for source in self.sources.values():
                if target in source.imports and source.path not in found:
                    found.add(source.path)
                    if source.kind is not Kind.DAG:
                        todo.append(source.path)
        return found

    def dags(self, env: str | None = None) -> list[Source]:
        return [source for source in self.sources.values() if source.kind is Kind.DAG
                and (env is None or source.env == env)]

    def roles_now(self, path: str) -> Roles:
        """The roles the DAG file uses now (static reading; None: cannot be decided)."""
        if path not in self.usage:
            self.usage[path] = static_roles(self.sources[path].text,
                                            lambda p: read_text(self.root / p))
        return self.usage[path]

    def roles_before(self, path: str) -> Roles:
        """The roles the DAG file used at the base (frozenset() if it did not exist)."""
        text = old_text(self.root, self.base, path)
        if text is None:
            return frozenset()
        return static_roles(text, lambda p: old_text(self.root, self.base, p))

    def projects(self) -> set[str]:
        """The project folders of every environment now (as scan_repo lists them)."""
        return {folder.name for folder in self.root.glob("environments/*/dags/*")
                if folder.is_dir() and not folder.name.startswith((".", "__"))}

    def files(self, subject: Subject) -> list[str]:
        kinds = SUBJECT_KINDS.get(subject)
        return [path for path in self.paths if kinds is None or route(path).kind in kinds]


def dependents(root: Path, base: str, touched: list[str]) -> set[str]:
    """The files (existing now) whose result depends on the ``touched`` files (changed or
    deleted since ``base``), the touched files themselves not included."""
    repo = Repository.read(root, base)
    found: set[str] = set()
    rules = list(all_rules().values())
    for path in touched:
        found |= made_of(repo, path)
        for change in changes_of(repo, path):
            for rule in rules:
                if change.reads in rule.reads:
                    found |= seen_by(repo, change, rule.subject)
    return found - set(touched)


def made_of(repo: Repository, path: str) -> set[str]:
    """The files whose facts are made of ``path``: the importers of an imports/ file."""
    where = route(path)
    if where.kind is Kind.IMPORTS_MODULE:
        return repo.importers([path])
    if where.kind is Kind.IMPORTS_INIT:
        return repo.importers([INIT]) | {p for p, s in repo.sources.items()
                                         if s.kind is Kind.IMPORTS_MODULE}
    return set()


# -- what a change changes ----------------------------------------------------------------


def changes_of(repo: Repository, path: str) -> list[Change]:
    """The repository facts (Reads) the change of ``path`` may have altered."""
    where = route(path)
    found: list[Change] = []
    if where.kind in (Kind.ROLE, Kind.ROLE_EXTENSION) and where.env and where.name:
        if (repo.root / path).is_file() != _existed(repo, path):
            found.append(Change(Reads.ROLES, where.env, where.name))
    if where.kind is Kind.ROLE and where.env and where.name:
        found.append(Change(Reads.ROLE_WRITES, where.env, _write_paths_then_and_now(repo, path)))
    if where.kind in PYTHON:
        found += _role_user_changes(repo, path)
    folder = PROJECT_FOLDER.match(path)  # any file makes its folder a project: a README too
    if folder and (repo.root / folder[0]).is_dir() != _existed(repo, folder[0]):
        found.append(Change(Reads.PROJECTS, folder["env"], folder["project"]))
    if where.kind is Kind.README:
        found.append(Change(Reads.READMES, where.env, where.project))
    if where.kind is Kind.IMPORTS_INIT and (repo.root / path).is_file() != _existed(repo, path):
        found.append(Change(Reads.IMPORTS_INIT, None))
    return found


def _role_user_changes(repo: Repository, path: str) -> list[Change]:
    """ROLE_USERS: the roles, before and after, of the DAG files the change reaches (the
    file itself, and the DAGs importing it); None for an env where one is undecided."""
    reached = {path} | made_of(repo, path)
    found = []
    for dag in sorted(reached):
        env = route(dag).env
        if env is None or route(dag).kind is not Kind.DAG:
            continue
        now = repo.roles_now(dag) if dag in repo.sources else frozenset()
        before = repo.roles_before(dag)
        if now is None or before is None:  # the facts may decide: any role of the env
            found.append(Change(Reads.ROLE_USERS, env, None))
        elif now != before:  # the roles used only before or only now
            found.append(Change(Reads.ROLE_USERS, env, now ^ before))
    return found


# -- who can see it -----------------------------------------------------------------------


def seen_by(repo: Repository, change: Change, subject: Subject) -> set[str]:
    """The files of ``subject`` whose result a rule reading ``change.reads`` may change:
    narrowed where the fact says who can see it, else every file of the subject."""
    narrow = NARROWING.get((change.reads, subject))
    if narrow is not None:
        return narrow(repo, change)
    env = change.env
    return {path for path in repo.files(subject)
            if env is None or route(path).env in (env, None)}


def _role_users_of(repo: Repository, change: Change) -> set[str]:
    """ROLES: the DAG files that use the role (or may: undecided), of any environment
    (DAG007 names a role file found in another environment's folder), and those of its
    env's project the role's name names that use a role of another project (DAG021 lists
    the project's roles) or a missing one (DAG007 suggests a close name of the project)."""
    stem = change.detail
    found = set()
    for source in repo.dags():
        roles = repo.roles_now(source.path)
        project = f"_{source.project}_"
        existing = repo.roles.get(source.env or "", {})
        if roles is None or stem in roles or (
                source.env == change.env and project in f"_{stem}_"
                and any(project not in f"_{role}_" or role not in existing for role in roles)):
            found.add(source.path)
    return found


def _overlapping(repo: Repository, change: Change) -> set[str]:
    """ROLE_WRITES: the other environments' roles whose write paths overlap these."""
    mine = change.detail
    found: set[str] = set()
    if not mine:
        return found
    for other_env, stems in repo.roles.items():
        if other_env == change.env:
            continue
        for other in stems.values():
            theirs = [normal_path(p) for p in write_paths(read_text(repo.root / other))]
            if any(globs_overlap(a, b) for a in mine for b in theirs):
                found.add(other)
    return found


def _used_roles(repo: Repository, change: Change) -> set[str]:
    """ROLE_USERS: the role files of those roles, and those whose iam_role_name names one
    (ROL007's fix asks whether that name is used); every one of the env when undecided."""
    stems = repo.roles.get(change.env or "", {})
    if change.detail is None:
        return set(stems.values())
    return {path for stem, path in stems.items() if stem in change.detail
            or iam_role_name(read_text(repo.root / path)) in change.detail}


def _project_modules(repo: Repository, change: Change) -> set[str]:
    """PROJECTS: the imports/ modules named after the project."""
    return {path for path, source in repo.sources.items()
            if source.kind is Kind.IMPORTS_MODULE
            and Path(path).stem.startswith(f"{change.detail}_")}


def _project_or_no_owner(repo: Repository, change: Change) -> set[str]:
    """PROJECTS: the imports/ modules named after the project, and those no project owns
    (IMP001 and IMP002 list the projects, IMP002 suggests the closest)."""
    projects = repo.projects()
    return _project_modules(repo, change) | {
        path for path, source in repo.sources.items() if source.kind is Kind.IMPORTS_MODULE
        and not any(Path(path).stem.startswith(f"{project}_") for project in projects)}


def _project_module_importers(repo: Repository, change: Change) -> set[str]:
    """PROJECTS: the DAG files importing the modules named after the project (DAG018)."""
    return {path for path in repo.importers(_project_modules(repo, change))
            if repo.sources[path].kind is Kind.DAG}


def _readme_folder(repo: Repository, change: Change) -> set[str]:
    """READMES: the files of the project folder."""
    return {path for path in repo.paths
            if path.startswith(f"environments/{change.env}/dags/{change.detail}/")}


def _imports_folder(repo: Repository, change: Change) -> set[str]:
    """IMPORTS_INIT: the files under imports/."""
    return {path for path in repo.paths if path.startswith("imports/")}


NARROWING = {
    (Reads.ROLES, Subject.DAG): _role_users_of,
    (Reads.ROLE_WRITES, Subject.ROLE): _overlapping,
    (Reads.ROLE_USERS, Subject.ROLE): _used_roles,
    (Reads.PROJECTS, Subject.IMPORTS): _project_or_no_owner,
    (Reads.PROJECTS, Subject.DAG): _project_module_importers,
    (Reads.READMES, Subject.PATH): _readme_folder,
    (Reads.IMPORTS_INIT, Subject.PATH): _imports_folder,
}


def _write_paths_then_and_now(repo: Repository, path: str) -> list[str]:
    return [normal_path(p) for text in (read_text(repo.root / path),
                                        old_text(repo.root, repo.base, path))
            for p in write_paths(text)]


# -- imports ------------------------------------------------------------------------------


def imported_files(text: str, *, inside_imports: bool) -> frozenset[str]:
    """The imports/ files a module's source imports (anywhere in it, functions included);
    ``inside_imports``: the module is in imports/, where ``from . import x`` counts."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()  # it fails to import whatever imports/ holds
    names: set[str] = set()
    for node in ast.walk(tree):
        names |= _imported_names(node, inside_imports)
    return frozenset(INIT if name == "__init__" else f"imports/{name}.py" for name in names)


def _imported_names(node: ast.AST, inside_imports: bool) -> set[str]:
    """imports/ module names (``__init__`` for the package) one AST node imports."""
    if isinstance(node, ast.Import):
        return {name for alias in node.names for name in _dotted(alias.name)}
    if isinstance(node, ast.ImportFrom):
        relative = node.level == 1 and inside_imports
        module = ("imports" + (f".{node.module}" if node.module else "")) if relative \
            else node.module if node.level == 0 else None
        if module is None or not (module == "imports" or module.startswith("imports.")):
            return set()
        names = _dotted(module)
        if module == "imports":  # from imports import x: x is a module or a name in __init__
            names |= {alias.name for alias in node.names if alias.name != "*"}
        return names
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = IMPORTS_STRING.fullmatch(node.value.strip())  # importlib.import_module(...)
        return {"__init__", match.group(1)} if match else set()
    return set()


def _dotted(module: str) -> set[str]:
    parts = module.split(".")
    if parts[0] != "imports":
        return set()
    return {"__init__", *parts[1:2]}


# -- roles ----------------------------------------------------------------------------------


def write_paths(text: str | None) -> list[str]:
    """The S3 paths a role file's text grants write access to; [] when it does not parse."""
    try:
        config: Any = yaml.load(text, Loader=yaml_loader(text)) if text else None
    except yaml.YAMLError:
        return []
    s3 = config.get("s3") if isinstance(config, dict) else None
    if not isinstance(s3, dict):
        return []
    return [path for access in WRITE_ACCESS if isinstance(s3.get(access), list)
            for path in s3[access] if isinstance(path, str)]


def iam_role_name(text: str | None) -> str | None:
    """A role file's iam_role_name, if it has one (a string)."""
    try:
        config: Any = yaml.load(text, Loader=yaml_loader(text)) if text else None
    except yaml.YAMLError:
        return None
    name = config.get("iam_role_name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else None


def _existed(repo: Repository, path: str) -> bool:
    try:
        git(repo.root, "cat-file", "-e", f"{repo.base}:./{path}")
    except GitError:
        return False
    return True
