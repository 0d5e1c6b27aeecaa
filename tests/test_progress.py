"""The progress line (stderr, terminals only, not with --quiet) and --timings."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from validation.problems import Timing
from validation.progress import ProgressLine, timings_table

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "dagrepo"
CLEAN = "environments/dev/dags/clean/clean_dag.py"
WRONG_ID = "environments/dev/dags/cases/wrong_dag_id.py"


def test_the_line_is_redrawn_in_place_and_erased() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, interval=0.0)
    line(0, 3, "environments/dev/dags/a/x.py")
    line(2, 3, "environments/dev/dags/a/y.py")
    line.close()
    assert stream.getvalue() == (
        "\r[0/3] importing environments/dev/dags/a/x.py\x1b[K"
        "\r[2/3] importing environments/dev/dags/a/y.py\x1b[K"
        "\r\x1b[K")


def test_nothing_is_written_when_nothing_was_shown() -> None:
    stream = io.StringIO()
    ProgressLine(stream).close()
    assert stream.getvalue() == ""


def test_the_timings_list_the_slowest_first() -> None:
    table = timings_table([Timing("a.py", 0.5, False), Timing("b.py", 2.25, True),
                           Timing("c.py", 1.0, False)], count=2)
    assert table == ("Slowest DAG imports (2 of 3 files, 1 from the cache, marked *):\n"
                     "    2.25 s* b.py\n"
                     "    1.00 s  c.py\n")


def _on_a_terminal(*argv: str) -> tuple[str, str]:
    """Run the validator with stderr on a pseudo-terminal: (stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "validation", "--dag-timeout", "5", *argv],
        cwd=FIXTURE, env=env, stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    stdout = process.stdout.read() if process.stdout else ""
    process.wait(timeout=300)
    os.close(leader)
    return stdout, terminal.decode()


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_shows_on_a_terminal_unless_quiet(quiet: bool) -> None:
    stdout, terminal = _on_a_terminal(CLEAN, WRONG_ID, *(["--quiet"] if quiet else []))
    assert "DAG005" in stdout and "importing" not in stdout
    if quiet:
        assert terminal == ""
    else:
        assert "[0/2] importing environments/dev/dags/" in terminal
        assert terminal.endswith("\r\x1b[K")  # erased before the report


def test_no_progress_when_stderr_is_not_a_terminal_and_timings_keep_stdout_clean() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "validation", "--dag-timeout", "5", "--format",
         "json", "--timings", CLEAN, WRONG_ID],
        cwd=FIXTURE, env=env, capture_output=True, text=True, timeout=300)
    assert [p["rule"] for p in json.loads(result.stdout)["problems"]] == ["DAG005"]
    lines = result.stderr.splitlines()
    assert lines[0] == "Slowest DAG imports (2 of 2 files, 0 from the cache, marked *):"
    assert sorted(line.split()[-1] for line in lines[1:]) == sorted([CLEAN, WRONG_ID])
    assert "importing" not in result.stderr
