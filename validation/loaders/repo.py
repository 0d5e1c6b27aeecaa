"""Read the repository layout that cross-file rules need (RepoFacts), once per run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from validation.facts import RepoFacts, WriteGrant
from validation.loaders.files import read_text
from validation.loaders.role_users import FactsOf, file_roles
from validation.routes import Kind, route
from validation.s3 import bucket_of, has_wildcard, normal_path

WRITE_ACCESS = ("write_only", "read_write")
MAX_ROLE_BYTES = 1_000_000  # as the role loader: real role files have a few hundred bytes
MAX_C_DEPTH = 200  # nesting libyaml may be given (see yaml_loader)


OTHER_ROLE_SUFFIXES = (".yml", ".json")  # role files STR005 asks to rename to .yaml


def _names(folder: Path, *, dirs: bool, suffix: str = "", keep: bool = False
           ) -> frozenset[str]:
    """The folders, or the files ending ``suffix`` (without it, unless ``keep``)."""
    if not folder.is_dir():
        return frozenset()
    found = set()
    for entry in folder.iterdir():
        if entry.name.startswith((".", "__")):
            continue
        if dirs and entry.is_dir():
            found.add(entry.name)
        elif not dirs and entry.is_file() and entry.name.endswith(suffix):
            found.add(entry.name[: -len(suffix)] if suffix and not keep else entry.name)
    return frozenset(found)


def scan_repo(root: Path, environments: tuple[str, ...]) -> RepoFacts:
    """Role files, project folders, READMEs and imports modules of the repository at root."""
    roles, other_files, projects, readmes = {}, {}, {}, {}
    for env in environments:
        env_dir = root / "environments" / env
        roles[env] = _names(env_dir / "roles", dirs=False, suffix=".yaml")
        other_files[env] = frozenset(
            name for suffix in OTHER_ROLE_SUFFIXES
            for name in _names(env_dir / "roles", dirs=False, suffix=suffix, keep=True))
        projects[env] = _names(env_dir / "dags", dirs=True)
        readmes[env] = frozenset(
            p for p in projects[env] if (env_dir / "dags" / p / "README.md").is_file()
        )
    imports_dir = root / "imports"
    return RepoFacts(
        root=str(root),
        environments=environments,
        roles=roles,
        role_other_files=other_files,
        projects=projects,
        readmes=readmes,
        imports_has_init=(imports_dir / "__init__.py").is_file(),
    )


# -- what the cross-file role rules need (ROL016, SEC001) ---------------------------------


def with_role_context(root: Path, repo: RepoFacts,
                      checked: Iterable[tuple[str, str]] = (),
                      facts_of: FactsOf | None = None) -> RepoFacts:
    """``repo`` with every role's write grants and the roles each env's DAG files use.

    Read from disk, whichever files were named, and only when role files are checked:
    runs without role files do none of this work. ``checked`` adds (env, stem) of role
    files being checked that the scan skips (a name starting with a dot, say);
    ``facts_of`` gives the facts of a DAG file at its current content when the run has
    them (loaded, or from the cache), so that the roles its tasks really have count.
    """
    users: dict[str, frozenset[str]] = {}
    undecided: dict[str, tuple[str, ...]] = {}
    for env in repo.environments:
        used, unknown = dag_role_users(root, env, facts_of)
        users[env], undecided[env] = used, tuple(unknown)
    return dataclasses.replace(
        repo,
        role_writes={env: _write_grants(root, env, repo.roles.get(env, frozenset()))
                     for env in repo.environments},
        role_users=users,
        role_undecided=undecided,
    )


def dag_role_users(root: Path, env: str, facts_of: FactsOf | None = None,
                   ) -> tuple[frozenset[str], list[str]]:
    """(the roles the env's DAG files use, the DAG files whose roles cannot be decided)."""
    used: set[str] = set()
    unknown: list[str] = []
    for path in env_dag_files(root, env):
        roles = file_roles(root, path, facts_of)
        if roles is None:
            unknown.append(path)
        else:
            used |= roles
    return frozenset(used), unknown


def env_dag_files(root: Path, env: str) -> list[str]:
    """The DAG files of environments/<env>/dags/ (dags/<project>/<dag>.py)."""
    folder = root / "environments" / env / "dags"
    found = [f"environments/{env}/dags/{project.name}/{path.name}"
             for project in (sorted(folder.iterdir()) if folder.is_dir() else [])
             if project.is_dir() for path in sorted(project.glob("*.py"))]
    return [path for path in found if route(path).kind is Kind.DAG and (root / path).is_file()]


def _write_grants(root: Path, env: str, stems: frozenset[str],
                  ) -> dict[str, tuple[WriteGrant, ...]]:
    """The S3 write paths of the env's role files by bucket, read with plain PyYAML (no
    iam_builder); a path with a wildcard in its bucket is filed under "*".

    A file that cannot be read or parsed is skipped: its own check reports it.
    """
    by_bucket: dict[str, list[WriteGrant]] = {}
    for grant in _grants(root, env, stems):
        bucket = bucket_of(normal_path(grant.s3_path))
        by_bucket.setdefault("*" if has_wildcard(bucket) else bucket, []).append(grant)
    return {bucket: tuple(grants) for bucket, grants in by_bucket.items()}


def _grants(root: Path, env: str, stems: frozenset[str]) -> list[WriteGrant]:
    grants = []
    for stem in sorted(stems):
        rel_path = f"environments/{env}/roles/{stem}.yaml"
        text = read_text(root / rel_path, MAX_ROLE_BYTES, errors="strict")
        if text is None:
            continue  # not a regular file, too large or not UTF-8: its own check says so
        try:
            s3 = _s3_node(text)
        except Exception:  # whatever is wrong with the file, its own check reports it
            continue
        grants += [WriteGrant(rel_path, access, path, line)
                   for access, path, line in _write_entries(s3)]
    return grants


def _s3_node(text: str) -> Any:
    """The YAML node of the document's ``s3`` mapping (None when there is none), composed
    with the safe loader: nodes keep the line of each entry."""
    import yaml  # here: a run that checks no role file need not import it

    loader = yaml_loader(text)(text)
    try:
        document = loader.get_single_node()
    finally:
        loader.dispose()
    if not isinstance(document, yaml.MappingNode):
        return None
    found = [value for key, value in document.value
             if isinstance(key, yaml.ScalarNode) and key.value == "s3"]
    return found[-1] if found else None  # the last of repeated keys, as PyYAML loads it


def _write_entries(s3: Any) -> list[tuple[str, str, int]]:
    """(access, path, line) of each string entry of s3.write_only and s3.read_write."""
    import yaml

    if not isinstance(s3, yaml.MappingNode):
        return []
    entries = []
    for key, value in s3.value:
        if not (isinstance(key, yaml.ScalarNode) and key.value in WRITE_ACCESS
                and isinstance(value, yaml.SequenceNode)):
            continue
        entries += [(key.value, item.value, item.start_mark.line + 1) for item in value.value
                    if isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:str"]
    return entries


def yaml_loader(text: str) -> Any:
    """The safe loader for ``text``: libyaml's when PyYAML has it and the document's
    nesting is certainly shallow (ten times faster, so every role can be read), else the
    pure-Python one. libyaml recurses in C without a limit: a file of 100,000 "[" would
    crash the process."""
    import yaml  # here: a run that reads no YAML need not import it

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader) if _shallow(text) else yaml.SafeLoader


def _shallow(text: str) -> bool:
    """Whether the YAML ``text`` certainly nests less than MAX_C_DEPTH levels: each level
    takes a bracket, or on its line some indentation or a "-", "?" or ":" indicator."""
    depth = deepest = 0
    for character in text:
        if character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(depth - 1, 0)
    lines = max((len(line) - len(line.lstrip()) + line.count("-") + line.count("?")
                 + line.count(":") for line in text.splitlines()), default=0)
    return deepest + lines < MAX_C_DEPTH
