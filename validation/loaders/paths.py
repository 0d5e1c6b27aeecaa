"""Turn the paths a user names into PathFacts: repo-relative, routed, looked up on disk.

Users name files relative to the folder they are in, or by full path as the user guide
asks. Each path becomes one repo-relative ``/`` path before it is routed, so
``./environments/dev/dags/x/a.py``, ``dags/x/a.py`` typed in ``environments/dev`` and
``/home/me/airflow/environments/dev/dags/x/a.py`` are the same file.

Nothing here raises: a name the file system cannot take, a permission error, a symlink
loop or a path outside the repository all become facts the STR rules report.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from validation.facts import PathFacts
from validation.loaders.files import read_text
from validation.routes import AIRFLOW_ROOT_FILES, AIRFLOW_ROOT_FOLDERS, Kind, Route, route

SCANNED = ("environments", "imports")  # what --all lists; everything else is unchecked
OUTSIDE = Route(Kind.UNKNOWN)  # the route of a path outside the repository (STR001)
_FS_ERRORS = (OSError, ValueError, RuntimeError)  # bad names, permissions, symlink loops


def resolve(root: Path, raw: str, cwd: Path) -> PathFacts:
    """The facts of the path ``raw``, typed by the user in ``cwd``, in the repository ``root``.

    The path is normalised without following symlinks, so a symlink inside the repository
    is reported under the name the user gave it; but a path whose real location is outside
    the repository is outside (inside_root=False, path = ``raw`` as given).
    """
    return resolve_all(root, [raw], cwd)[0]


def resolve_all(root: Path, raws: list[str], cwd: Path) -> list[PathFacts]:
    """``resolve`` for each of ``raws``: the root's real location is looked up once, and
    each path's once (``--all`` resolves every file of the repository)."""
    root_named = _normalised(root)
    root_real = _real(root_named)
    found = []
    for raw in raws:
        absolute = _normalised(Path(cwd) / raw)
        exists, is_dir = _on_disk(absolute)
        real = _real(absolute)
        rel = _repo_relative(absolute, real, root_named, root_real)
        if rel is None or not (real == root_real or root_real in real.parents):
            found.append(PathFacts(raw, OUTSIDE, exists, is_dir, inside_root=False))
        else:
            found.append(PathFacts(rel, route(rel), exists, is_dir))
    return found


def all_paths(root: Path) -> list[str]:
    """Every file under environments/ and imports/, repo-relative and sorted (for --all),
    and the files at the root that Airflow would import (airflow_local_settings.py, plugins/).

    Hidden entries (names starting with ".") and ``__pycache__`` folders are skipped, and
    directory symlinks are never followed (a symlink to a file is listed like a file).
    """
    found = [name for name in AIRFLOW_ROOT_FILES if os.path.lexists(Path(root) / name)]
    for top in SCANNED + AIRFLOW_ROOT_FOLDERS:
        folder = Path(root) / top
        if folder.is_symlink() or not folder.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if _listed(d) and d != "__pycache__"]
            base = Path(dirpath).relative_to(root)
            found.extend((base / name).as_posix() for name in filenames if _listed(name))
    return sorted(found)


def _listed(name: str) -> bool:
    return not name.startswith(".")


def _normalised(path: Path) -> Path:
    """Absolute, with "." and ".." segments removed lexically (as a shell's cd does)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def _real(path: Path) -> Path:
    """The real location (symlinks followed); the path itself when it cannot be looked up."""
    try:
        return Path(os.path.realpath(path))
    except _FS_ERRORS:
        return path


def _on_disk(path: Path) -> tuple[bool, bool]:
    """(exists, is_dir), following symlinks; False for anything that cannot be looked at."""
    try:
        return os.path.exists(path), os.path.isdir(path)
    except _FS_ERRORS:  # pragma: no cover  (os.path swallows these already)
        return False, False


def _repo_relative(absolute: Path, real: Path, root_named: Path, root_real: Path
                   ) -> str | None:
    """``absolute`` (whose real location is ``real``) relative to the root (named
    ``root_named``, really at ``root_real``) in "/" form, or None when it is not below it.

    Tried first by name (root as given, then its real location, as the current folder
    usually comes back resolved), and only then through symlinks in the path itself.
    """
    for path, base in ((absolute, root_named), (absolute, root_real), (real, root_real)):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


# -- where the repository is ----------------------------------------------------------------

CONFIG_FILE, CONFIG_SECTION = "setup.cfg", "validation"


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that is a pipelines repository: it holds
    environments/, or a setup.cfg with a [validation] section. None when there is none."""
    folder = Path(os.path.abspath(start))
    for candidate in (folder, *folder.parents):
        try:
            if (candidate / "environments").is_dir() or _configures(candidate / CONFIG_FILE):
                return candidate
        except _FS_ERRORS:
            continue
    return None


def _configures(path: Path) -> bool:
    text = read_text(path) if path.is_file() else None
    if text is None:
        return False
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return False
    return parser.has_section(CONFIG_SECTION)
