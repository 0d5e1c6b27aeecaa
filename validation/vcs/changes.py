"""``--changed-since REF``: the files changed since a git ref, and the files whose result
depends on them.

The comparison is with the merge base of REF and HEAD (as a pull request's diff is), and
takes in the working tree: uncommitted edits and new files git does not ignore count.
Deleted files are not validated, but the files that depended on them are. Nothing here
imports Airflow: who uses what is read from the sources (the AST of DAG files and
imports/ modules, and the text search ROL016 uses for role names).

Which results depend on another file (validation/vcs/dependents.py has the details):

- a role file: the DAGs that name it (DAG007: it exists), directly or through an imports/
  module they import, and those using a role with no file (DAG007's hint); and the other
  environments' roles whose write paths overlap its write paths, before or after the
  change (SEC001);
- a DAG file or imports/ module: the roles its text names, before or after the change
  (ROL016 warns about a role no DAG or imports/ module names), and the role files whose
  iam_role_name is one of them (ROL007's fix);
- an imports/ module: the DAG files and modules importing it, directly or not;
  imports/__init__.py: every module and every DAG importing from imports;
- a project README.md: the project's DAG files (STR006); a project folder appearing or
  going (a README or any file in it): the imports/ modules named after it and their
  importers, and the modules no project owns (IMP001, IMP002, DAG018);
- the validator itself (validation/), its lock, or setup.cfg's [validation] section:
  every file, as with --all.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

from validation.loaders.files import read_text
from validation.loaders.paths import CONFIG_FILE, CONFIG_SECTION, all_paths
from validation.routes import route
from validation.vcs.dependents import dependents
from validation.vcs.git import GitError, git, old_text

# Changes to these make every result suspect: validate everything.
VALIDATOR_PREFIXES = ("validation/",)
VALIDATOR_FILES = ("requirements-validation.txt",)


class ChangesError(Exception):
    """The changes cannot be known (no git, not a repository, unknown ref): a usage error."""


@dataclass(frozen=True)
class Changes:
    """What changed between the merge base and the working tree (repo-relative paths)."""

    base: str  # the commit compared with
    changed: tuple[str, ...]  # exist now: added, modified, renamed (new name), untracked
    deleted: tuple[str, ...]  # gone now (the old name of a renamed file too)


def merge_base(root: Path, ref: str) -> str:
    """The commit REF and HEAD share (REF itself before the first commit); ChangesError
    with what to do when git, the repository or the ref is missing."""
    if not ref or ref.startswith("-"):
        raise ChangesError(f"{ref!r} is not a git ref")
    try:
        git(root, "rev-parse", "--show-toplevel")
    except GitError as error:
        raise ChangesError(f"cannot compare with {ref}: {error}") from None
    try:
        commit = git(root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                     f"{ref}^{{commit}}").strip()
    except GitError:
        raise ChangesError(f"unknown git ref {ref!r}: name a branch, tag or commit of this "
                           "repository (in CI, fetch it: actions/checkout with fetch-depth: 0)"
                           ) from None
    try:
        git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except GitError:
        return commit  # no commit yet: compare with REF itself
    try:
        return git(root, "merge-base", commit, "HEAD").strip()
    except GitError:
        raise ChangesError(f"{ref} and HEAD have no common history here: fetch more of it "
                           "(git fetch --unshallow, or fetch-depth: 0 in actions/checkout)"
                           ) from None


def changes_since(root: Path, ref: str) -> Changes:
    """The files changed in the working tree of ``root`` since the merge base of ``ref``."""
    base = merge_base(root, ref)
    try:
        diffed = _nul_list(git(root, "-c", "core.quotepath=off", "diff", "--name-only",
                               "--no-renames", "--relative", "-z", base, "--"))
        untracked = _nul_list(git(root, "ls-files", "--others", "--exclude-standard", "-z"))
    except GitError as error:
        raise ChangesError(f"cannot list the files changed since {ref}: {error}") from None
    paths = sorted(set(diffed) | set(untracked))
    exists = {path: (root / path).exists() for path in paths}
    return Changes(base, tuple(p for p in paths if exists[p]),
                   tuple(p for p in paths if not exists[p]))


def _nul_list(output: str) -> list[str]:
    return [item for item in output.split("\0") if item]


def paths_to_check(root: Path, ref: str) -> tuple[list[str], bool]:
    """(paths to validate, whether to validate everything) for ``--changed-since ref``."""
    changes = changes_since(root, ref)
    if validator_changed(root, changes):
        return all_paths(root), True
    touched = [path for path in (*changes.changed, *changes.deleted) if route(path).checked]
    found = dependents(root, changes.base, touched)
    checked = [path for path in changes.changed if route(path).checked]
    return sorted(set(checked) | {path for path in found if (root / path).exists()}), False


def validator_changed(root: Path, changes: Changes) -> bool:
    """Whether the validator, its lock or its configuration changed."""
    for path in (*changes.changed, *changes.deleted):
        if path.startswith(VALIDATOR_PREFIXES) or path in VALIDATOR_FILES:
            return True
    if CONFIG_FILE in (*changes.changed, *changes.deleted):
        now = read_text(root / CONFIG_FILE, errors="strict")
        return _section(now) != _section(old_text(root, changes.base, CONFIG_FILE))
    return False


def _section(text: str | None) -> dict[str, str] | None:
    """setup.cfg's [validation] section, or the text itself when it does not parse."""
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {"": text}
    return dict(parser[CONFIG_SECTION]) if parser.has_section(CONFIG_SECTION) else {}
