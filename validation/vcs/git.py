"""Running git: the one place the validator does (the github format's changed lines,
--changed-since, --policy-diff). Failures become GitError with a message for the user."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT = 60  # seconds, for each git command


class GitError(Exception):
    """git is missing, failed or hung; the message says which, for the user."""


def git(root: Path, *args: str) -> str:
    """git's stdout, run in ``root``; GitError with git's own message when it fails."""
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=GIT_TIMEOUT,
                                stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT} s") from None
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise GitError(f"cannot run git: {error}") from None
    if result.returncode != 0:
        said = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise GitError(said[0] if said else f"git {args[0]} failed ({result.returncode})")
    return result.stdout.decode("utf-8", errors="replace")


def old_text(root: Path, base: str, path: str) -> str | None:
    """The file's text at ``base`` (``git show``, the working tree is not touched); None
    when it did not exist there."""
    try:
        return git(root, "show", f"{base}:./{path}")
    except GitError:
        return None
