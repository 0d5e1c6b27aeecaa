"""Applying fixes: ``--fix`` writes them, ``--diff`` shows them as a unified diff.

A fix (problems.Fix) is plain data a rule attached to its finding: edits of a file's text
at positions its facts held, and the digest of the text those facts came from. Here each
file is read again and an edit is made only when

- the path is inside the repository and neither it nor a folder on the way is a symlink,
- the file's text is the one the run read (same digest); a file to create does not exist,
- the file is UTF-8 (a BOM is kept) and the positions fall inside its lines.

The edits of one round never overlap: a fix that would overlap one already taken waits
for the next round, when the run has read the changed file again (fix_repeatedly, at
most MAX_ROUNDS). A file is written to a temporary file in its own folder, given the
original's mode, and renamed over it (os.replace), after checking once more that the
file still holds the text that was read; a new file is linked into place only if
nothing is there. Comments, quoting, layout and every other line stay as they were.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from validation.loaders.files import Unreadable, read_bytes, text_digest
from validation.problems import Edit, Fix, Problem, Report

MAX_ROUNDS = 5  # a fix made possible by another (the dag_id after the comma) takes a round
MAX_BYTES = 4_000_000  # the largest file a loader reads (role files: a million characters)
BOM = "\ufeff"
LINE_START = re.compile(r"\r\n|\r|\n")  # where lines end, as the AST and PyYAML count them


@dataclass
class _File:
    """A file as read for editing: its text (None: to be created), its BOM and mode."""

    path: str
    text: str | None
    bom: bool = False
    mode: int | None = None
    raw: bytes = b""


@dataclass
class Round:
    """What one round of fixing did (or, for --diff, would do)."""

    fixed: list[Problem] = field(default_factory=list)  # problems whose fix was made
    refused: dict[str, str] = field(default_factory=dict)  # path -> why it was left alone
    texts: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # path -> old, new
    waiting: int = 0  # fixes that overlapped one taken: for the next round

    @property
    def changed(self) -> list[str]:
        return sorted(self.texts)


def plan(root: Path, problems: Iterable[Problem]) -> Round:
    """The fixes of ``problems`` that can be made together now, and the new texts."""
    done = Round()
    files: dict[str, _File | str] = {}  # path -> the file, or why it cannot be edited
    taken: dict[str, list[Edit]] = {}
    fixes: dict[Fix, list[Problem]] = {}
    for problem in problems:
        if problem.fix is not None:
            fixes.setdefault(problem.fix, []).append(problem)
    for fix, fixed in fixes.items():
        reason = _blocked(root, fix, files, taken)
        if reason == "overlap":
            done.waiting += 1
            continue
        if reason:
            done.refused.setdefault(fix.edits[0].path, reason)
            continue
        for edit in fix.edits:
            taken.setdefault(edit.path, []).append(edit)
        done.fixed += fixed
    for path, edits in taken.items():
        found = files[path]
        assert isinstance(found, _File)
        done.texts[path] = (found.text, _edited(found.text or "", edits))
    return done


def _blocked(root: Path, fix: Fix, files: dict[str, _File | str],
             taken: dict[str, list[Edit]]) -> str:
    """Why ``fix`` cannot be made in this round ("overlap": not yet), or ""."""
    for edit in fix.edits:
        if edit.path not in files:
            files[edit.path] = _read(root, edit)
        found = files[edit.path]
        if isinstance(found, str):
            return found
        reason = _fits(found, edit)
        if reason:
            return reason
        if any(_overlap(edit, other) for other in taken.get(edit.path, [])):
            return "overlap"
    return ""


def _read(root: Path, edit: Edit) -> _File | str:
    """The file an edit is for, or why it is left alone."""
    where = _place(root, edit.path)
    if isinstance(where, str):
        return where
    if edit.create:
        return _File(edit.path, None) if not os.path.lexists(where) else "it exists now"
    try:
        data = read_bytes(str(where), MAX_BYTES)
        mode = stat.S_IMODE(os.stat(where).st_mode)
    except (Unreadable, OSError) as error:
        return str(error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    bom = text.startswith(BOM)
    text = text.removeprefix(BOM)
    if text_digest(text) != edit.digest:
        return "it changed since it was read"
    return _File(edit.path, text, bom, mode, data)


def _place(root: Path, path: str) -> Path | str:
    """Where a repo-relative path is, when every part of it is a real folder or file
    inside the repository (no symlink, no ``..``)."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        return "the path is not inside the repository"
    real_root = Path(os.path.realpath(root))
    where = real_root.joinpath(*parts)
    for depth in range(1, len(parts) + 1):
        step = real_root.joinpath(*parts[:depth])
        if step.is_symlink():
            return "it is a symlink" if depth == len(parts) else "a folder on its path is a symlink"
    if not where.parent.is_dir():
        return "its folder does not exist"
    return where


def _fits(found: _File, edit: Edit) -> str:
    if edit.create or found.text is None:
        return "" if edit.create and found.text is None else "it exists now"
    starts = _line_starts(found.text)
    if _offset(found.text, starts, edit.line, edit.column) is None or \
            _offset(found.text, starts, edit.end_line, edit.end_column) is None:
        return "the fix's position is not in the file"
    return ""


def _overlap(one: Edit, other: Edit) -> bool:
    if one.create or other.create:
        return True
    start, end = (one.line, one.column), (one.end_line, one.end_column)
    other_start, other_end = (other.line, other.column), (other.end_line, other.end_column)
    return start < other_end and other_start < end or start == other_start


def _line_starts(text: str) -> list[int]:
    return [0] + [found.end() for found in LINE_START.finditer(text)]


def _offset(text: str, starts: list[int], line: int, column: int) -> int | None:
    """The index in ``text`` of a 1-based (line, column); None when it is not on the line
    (the end of the line, before its line break, is on it)."""
    if not 0 < line <= len(starts) or column < 1:
        return None
    end = starts[line] if line < len(starts) else len(text)
    body = text[starts[line - 1]:end].rstrip("\r\n")
    return starts[line - 1] + column - 1 if column - 1 <= len(body) else None


def _edited(text: str, edits: list[Edit]) -> str:
    """``text`` with ``edits`` (which do not overlap) made, from the last one up."""
    if any(edit.create for edit in edits):
        return edits[0].replacement
    starts = _line_starts(text)
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        start = _offset(text, starts, edit.line, edit.column)
        end = _offset(text, starts, edit.end_line, edit.end_column)
        assert start is not None and end is not None  # checked by _fits
        text = text[:start] + edit.replacement + text[end:]
    return text


# -- writing ----------------------------------------------------------------------------


def write(root: Path, done: Round) -> Round:
    """Write the new texts of a planned round; a file that changed meanwhile is left
    alone (moved from ``texts`` to ``refused``, its problems out of ``fixed``)."""
    for path, (old, new) in list(done.texts.items()):
        reason = _write(root, path, old, new)
        if reason:
            del done.texts[path]
            done.refused[path] = reason
    done.fixed = [p for p in done.fixed if p.fix is not None
                  and all(edit.path in done.texts for edit in p.fix.edits)]
    return done


def _write(root: Path, path: str, old: str | None, new: str) -> str:
    where = _place(root, path)
    if isinstance(where, str):
        return where
    previous = _read(root, Edit(path, 0, 0, 0, 0, "", text_digest(old or ""), old is None))
    if isinstance(previous, str):
        return previous
    data = ((BOM if previous.bom else "") + new).encode("utf-8", errors="surrogatepass")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=where.parent, prefix=f".{where.name}.",
                                                 suffix=".fix")
    except OSError as error:
        return f"cannot write it: {error}"
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, previous.mode if previous.mode is not None else _new_file_mode())
        if old is None:
            os.link(temporary, where)  # fails if something appeared there meanwhile
        elif read_bytes(str(where), MAX_BYTES) != previous.raw:
            return "it changed while it was being fixed"
        else:
            os.replace(temporary, where)
    except (OSError, Unreadable) as error:
        return f"cannot write it: {error}"
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return ""


def _new_file_mode() -> int:
    """0o666 less the umask, as open() would create the file."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


# -- the rounds and the diff ------------------------------------------------------------


@dataclass
class Outcome:
    """What ``--fix`` did over all its rounds."""

    fixed: list[Problem] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    rounds: int = 0


def fix_repeatedly(root: Path, report: Report, validate: Callable[[list[str]], Report],
                   rounds: int = MAX_ROUNDS) -> Outcome:
    """Make the fixes of ``report``; then, while a round changed something, validate the
    changed files again (``validate`` takes repo-relative paths) and make theirs, for at
    most ``rounds`` rounds."""
    outcome = Outcome()
    problems = report.problems
    while outcome.rounds < rounds:
        done = write(root, plan(root, problems))
        outcome.rounds += 1
        outcome.fixed += done.fixed
        for path, reason in done.refused.items():
            outcome.refused.setdefault(path, reason)
        if not done.texts:
            break
        outcome.changed.update(done.texts)
        problems = validate(done.changed).problems
    return outcome


def unified_diff(done: Round) -> str:
    """The new texts of a planned round as one unified diff (``a/`` and ``b/`` paths)."""
    chunks = []
    for path in done.changed:
        old, new = done.texts[path]
        lines = difflib.unified_diff(
            _lines(old or ""), _lines(new), "/dev/null" if old is None else f"a/{path}",
            f"b/{path}")
        chunks.append("".join(lines))
    return "".join(chunks)


def _lines(text: str) -> list[str]:
    """Lines with their ends; a last line without one is marked as diff(1) does."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
