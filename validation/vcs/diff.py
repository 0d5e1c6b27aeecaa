"""Which lines a pull request changed, from ``git diff --unified=0``, so that the github
format can annotate the problems a reviewer is looking at first.

:func:`parse_diff` is pure. :func:`changed_lines` runs git and never raises: no git, not a
repository, an unknown ref, a timeout all give None ("not known"), and the reporter then
keeps the report's order. git itself is run by validation.vcs.git.
"""

from __future__ import annotations

import re
from pathlib import Path

from validation.problems import ChangedLines
from validation.vcs.git import GitError, git

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def parse_diff(diff: str) -> ChangedLines:
    """The (path, line) pairs added or modified in the new side of a unified diff, and
    (path, 0) for every file the diff touches on the new side (deleted files have none)."""
    changed: set[tuple[str, int]] = set()
    path: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = _new_path(line[4:])
            if path is not None:
                changed.add((path, 0))
            continue
        match = HUNK.match(line)
        if match and path is not None:
            start, count = int(match.group(1)), int(match.group(2) or "1")
            changed.update((path, number) for number in range(start, start + count))
    return frozenset(changed)


def _new_path(name: str) -> str | None:
    """The repo-relative path of a ``+++`` line: ``b/x.py`` (a tab follows a name with a
    space), ``"b/t\\tab.py"`` quoted C-style, or ``/dev/null`` for a deleted file."""
    if name.startswith('"'):
        name = _unquote(name)
    elif name.endswith("\t"):
        name = name[:-1]
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith("b/") else name


def _unquote(quoted: str) -> str:
    """Undo git's C-style quoting of a path: ``"b/caf\\303\\251.py"`` -> ``b/café.py``."""
    body, out, i = quoted.strip().strip('"'), bytearray(), 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            octal = body[i + 1:i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(body[i + 1], ord(body[i + 1]) & 0xFF))
            i += 2
            continue
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", errors="replace")


def changed_lines(root: Path, base: str) -> ChangedLines | None:
    """The lines changed in ``root`` (working tree) since ``base``: a branch name as in
    GITHUB_BASE_REF (tried as ``origin/<base>`` first, as actions/checkout fetches it) or
    any ref. Paths are relative to ``root``. None when git cannot tell."""
    if not base or base.startswith("-"):
        return None
    for ref in (f"origin/{base}", base):
        if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is not None:
            diff = _git(root, "-c", "core.quotepath=off", "diff", "--unified=0", "--no-color",
                        "--no-ext-diff", "--relative", ref, "--")
            return None if diff is None else parse_diff(diff)
    return None


def _git(root: Path, *args: str) -> str | None:
    """git's stdout, or None when git is missing, fails or hangs."""
    try:
        return git(root, *args)
    except GitError:
        return None
