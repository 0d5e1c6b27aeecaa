"""Reading repository files safely: never blocking on a FIFO or a device, never reading
more than a limit. Every reader of repository files (loaders, the cache, the CLI) goes
through here."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

# Real DAG files and imports modules have a few kB; the parent parses each one (about
# 5 s a MB of plain statements, more for dense calls), so a larger file is refused.
MAX_SOURCE_BYTES = 1_000_000


class Unreadable(Exception):
    """A file the validator will not read: not a regular file, too large, or an OS error.
    The message says which, for a problem."""


def read_bytes(path: str, limit: int) -> bytes:
    """The content of the regular file at ``path``, at most ``limit`` bytes.

    Never blocks (a FIFO is opened without waiting for a writer, then refused) and never
    reads more than ``limit`` + 1 bytes, whatever the file claims its size is."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise Unreadable(f"cannot read the file: {error.strerror or error}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unreadable("cannot read the file: it is not a regular file (a FIFO, a device "
                             "or a socket)")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise Unreadable(f"cannot read the file: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise Unreadable(f"the file is larger than {limit:,} bytes, too large to validate: "
                         "split it, or move data out of it")
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], limit: int = MAX_SOURCE_BYTES,
              errors: str = "replace") -> str | None:
    """The text of a regular file of at most ``limit`` bytes, or None: for the readers
    beside the loaders (cross-file context, the cache's callers, reporters), which skip a
    file its own check reports. Never blocks, never reads more than the limit."""
    try:
        data = read_bytes(os.fspath(path), limit)
    except Unreadable:
        return None
    if len(data) > limit:
        return None
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        return None


def line_texts(root: Path, places: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The text of each (repo-relative path, line) that can be read, each file once: for
    the SARIF reporter's fingerprints."""
    files: dict[str, list[str]] = {}
    found: dict[tuple[str, int], str] = {}
    for path, line in places:
        if line <= 0:
            continue
        if path not in files:
            files[path] = (read_text(root / path) or "").splitlines()
        if line <= len(files[path]):
            found[(path, line)] = files[path][line - 1]
    return found


def text_digest(text: str) -> str:
    """The SHA-256 of a file's text (as UTF-8), recorded in the facts a loader makes so a
    fix edits only the text those facts came from (validation.fix checks it)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
