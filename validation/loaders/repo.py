"""Read the repository layout that cross-file rules need (RepoFacts), once per run."""

from __future__ import annotations

from pathlib import Path

from validation.facts import RepoFacts


def _names(folder: Path, *, dirs: bool, suffix: str = "") -> frozenset[str]:
    if not folder.is_dir():
        return frozenset()
    found = set()
    for entry in folder.iterdir():
        if entry.name.startswith((".", "__")):
            continue
        if dirs and entry.is_dir():
            found.add(entry.name)
        elif not dirs and entry.is_file() and entry.name.endswith(suffix):
            found.add(entry.name[: -len(suffix)] if suffix else entry.name)
    return frozenset(found)


def scan_repo(root: Path, environments: tuple[str, ...]) -> RepoFacts:
    """Role files, project folders, READMEs and imports modules of the repository at root."""
    roles, projects, readmes = {}, {}, {}
    for env in environments:
        env_dir = root / "environments" / env
        roles[env] = _names(env_dir / "roles", dirs=False, suffix=".yaml")
        projects[env] = _names(env_dir / "dags", dirs=True)
        readmes[env] = frozenset(
            p for p in projects[env] if (env_dir / "dags" / p / "README.md").is_file()
        )
    imports_dir = root / "imports"
    return RepoFacts(
        root=str(root),
        environments=environments,
        roles=roles,
        projects=projects,
        readmes=readmes,
        imports_modules=_names(imports_dir, dirs=False, suffix=".py"),
        imports_has_init=(imports_dir / "__init__.py").is_file(),
    )
