"""Which files' results depend on a changed file (``--changed-since``), read from the
sources without importing anything: the AST for imports, text for role names, PyYAML for
role write paths.

A file is re-checked when its result may differ from the one it had at the base commit,
whichever way: an error that goes away is re-checked too, and then shows nothing. What is
not followed: imports spelt at run time in ways the AST cannot see (other than a string
``"imports.<module>"``), a DAG file importing another DAG file, and DAG021's hint (the
list of the project's roles in its message) when a role of the project comes or goes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from validation.loaders.files import read_text
from validation.loaders.paths import all_paths
from validation.loaders.repo import WRITE_ACCESS, roles_named_in, yaml_loader
from validation.routes import Kind, route
from validation.s3 import globs_overlap, normal_path
from validation.vcs.git import GitError, git, old_text

INIT = "imports/__init__.py"
PYTHON = (Kind.DAG, Kind.IMPORTS_MODULE, Kind.IMPORTS_INIT)
IMPORTS_STRING = re.compile(r"imports\.(\w+)")


@dataclass(frozen=True)
class Source:
    """A DAG file or imports/ module as it is now."""

    path: str
    kind: Kind
    env: str | None
    project: str | None
    text: str
    imports: frozenset[str]  # the imports/ files it imports (imports/__init__.py included)


@dataclass
class Repository:
    """The sources and role files of the working tree, read once."""

    root: Path
    base: str
    sources: dict[str, Source]
    roles: dict[str, dict[str, str]]  # env -> role stem -> path

    @classmethod
    def read(cls, root: Path, base: str) -> Repository:
        sources: dict[str, Source] = {}
        roles: dict[str, dict[str, str]] = {}
        for path in all_paths(root):
            where = route(path)
            if where.kind in PYTHON:
                text = read_text(root / path) or ""
                sources[path] = Source(path, where.kind, where.env, where.project, text,
                                       imported_files(text, inside_imports=where.env is None))
            elif where.kind is Kind.ROLE and where.env and where.name:
                roles.setdefault(where.env, {})[where.name] = path
        return cls(root, base, sources, roles)

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

    def dags(self, paths: Iterable[str], env: str | None = None) -> set[str]:
        return {path for path in paths if self.sources[path].kind is Kind.DAG
                and (env is None or self.sources[path].env == env)}


def dependents(root: Path, base: str, touched: list[str]) -> set[str]:
    """The files (existing now) whose result depends on the ``touched`` files (changed or
    deleted since ``base``), the touched files themselves not included."""
    repo = Repository.read(root, base)
    found: set[str] = set()
    for path in touched:
        where = route(path)
        if where.kind is Kind.ROLE and where.env and where.name:
            found |= role_users(repo, where.env, where.name)
            found |= overlapping_roles(repo, path, where.env)
        elif _counts_for_rol016(path):
            found |= named_roles(repo, path, where.env)
        if where.kind is Kind.IMPORTS_MODULE:
            found |= repo.importers([path])
        elif where.kind is Kind.IMPORTS_INIT:
            found |= repo.importers([INIT]) | {p for p, s in repo.sources.items()
                                               if s.kind is Kind.IMPORTS_MODULE}
        elif where.kind is Kind.README:
            found |= {p for p, s in repo.sources.items() if s.kind is Kind.DAG
                      and (s.env, s.project) == (where.env, where.project)}
        if where.kind is Kind.DAG and where.env and where.project:
            found |= project_users(repo, where.env, where.project)
    return found - set(touched)


def _counts_for_rol016(path: str) -> bool:
    """A Python file whose text ROL016 searches for role names: anything under an env's
    dags/ (misplaced DAG files too) or under imports/."""
    parts = path.split("/")
    in_dags = len(parts) > 3 and parts[0] == "environments" and parts[2] == "dags"
    return path.endswith(".py") and (in_dags or parts[0] == "imports")


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


# -- roles --------------------------------------------------------------------------------


def role_users(repo: Repository, env: str, stem: str) -> set[str]:
    """The env's DAG files that name the role, or import a module that names it (DAG007
    says whether the role file exists)."""
    naming = {path for path, source in repo.sources.items()
              if (source.env in (env, None)) and roles_named_in(source.text, env, [stem])}
    return repo.dags(naming | repo.importers(naming), env)


def named_roles(repo: Repository, path: str, env: str | None) -> set[str]:
    """The role files (existing now) that the source names now or named at the base
    (ROL016); a module of imports/ counts for every environment."""
    text = "\n".join(filter(None, (read_text(repo.root / path),
                                   old_text(repo.root, repo.base, path))))
    found: set[str] = set()
    for role_env, stems in repo.roles.items():
        if env in (None, role_env):
            found |= {stems[stem] for stem in roles_named_in(text, role_env, stems)}
    return found


def overlapping_roles(repo: Repository, path: str, env: str) -> set[str]:
    """The other environments' roles whose write paths overlap the role's write paths,
    now or at the base (SEC001)."""
    mine = [normal_path(p) for text in (read_text(repo.root / path),
                                        old_text(repo.root, repo.base, path))
            for p in write_paths(text)]
    found: set[str] = set()
    if not mine:
        return found
    for other_env, stems in repo.roles.items():
        if other_env == env:
            continue
        for other in stems.values():
            theirs = [normal_path(p) for p in write_paths(read_text(repo.root / other))]
            if any(globs_overlap(a, b) for a in mine for b in theirs):
                found.add(other)
    return found


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


# -- project folders ----------------------------------------------------------------------


def project_users(repo: Repository, env: str, project: str) -> set[str]:
    """When a project folder appeared or went (IMP001, IMP002 and DAG018 read the project
    names): the imports/ modules named after it, and their importers."""
    folder = f"environments/{env}/dags/{project}"
    if (repo.root / folder).is_dir() == _existed(repo, folder):
        return set()
    modules = {path for path, source in repo.sources.items()
               if source.kind is Kind.IMPORTS_MODULE
               and Path(path).stem.startswith(f"{project}_")}
    return modules | repo.importers(modules)


def _existed(repo: Repository, path: str) -> bool:
    try:
        git(repo.root, "cat-file", "-e", f"{repo.base}:./{path}")
    except GitError:
        return False
    return True
