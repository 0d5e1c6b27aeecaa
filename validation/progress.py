"""What a long run shows on a terminal: a progress line, and the slowest DAG imports.

Both go to stderr, so that stdout keeps only the report (json and sarif stay parseable).
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from validation.problems import Timing

INTERVAL = 0.1  # seconds between two redraws of the progress line
SLOWEST = 10  # DAG files --timings lists


class ProgressLine:
    """One line, redrawn in place: ``[done/total] importing <file>``; erased by close()."""

    def __init__(self, stream: TextIO, interval: float = INTERVAL) -> None:
        self.stream, self.interval = stream, interval
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int, current: str) -> None:
        now = time.monotonic()
        if self.shown and now - self.last < self.interval:
            return
        self.last, self.shown = now, True
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = f"[{done}/{total}] importing {current}"
        if len(text) > width:  # keep the end of the path, the file's name
            text = text[:max(0, width - 40)] + "..." + text[-37:] if width > 40 else text[:width]
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def timings_table(timings: list[Timing], count: int = SLOWEST) -> str:
    """The slowest DAG imports, slowest first; a ``*`` marks a time stored in the cache."""
    if not timings:
        return "No DAG file was imported.\n"
    slowest = sorted(timings, key=lambda timing: (-timing.seconds, timing.path))[:count]
    cached = sum(timing.cached for timing in timings)
    lines = [f"Slowest DAG imports ({len(slowest)} of {len(timings)} files, "
             f"{cached} from the cache, marked *):"]
    lines += [f"{timing.seconds:8.2f} s{'*' if timing.cached else ' '} {timing.path}"
              for timing in slowest]
    return "\n".join(lines) + "\n"
