"""Stopping a run: SIGINT and SIGTERM end it with 130 / 143, no report presented as
complete, every child and the zygote killed, every temporary folder removed; after a
SIGKILL of the validator no child outlives it (parent-death signals).

The validator runs as a real process on a repository whose DAG file hangs; the test
waits until that file's child is running (it writes a file in its own folder), then
stops the validator and checks the processes and folders it had.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HANGS = "from pathlib import Path\nimport time\nPath('started').write_text('yes')\n" \
        "while True:\n    time.sleep(0.1)\n"
BOUND = 120.0  # seconds: only a broken run ever waits this long


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    dags = repo / "environments" / "dev" / "dags" / "stop"
    dags.mkdir(parents=True)
    (dags / "README.md").write_text("# stop\n")
    (dags / "hangs.py").write_text(HANGS)
    (repo / "imports").mkdir()
    (repo / "imports" / "__init__.py").write_text("")
    (repo / "setup.cfg").write_text("[validation]\ndag_timeout = 600\njobs = 1\n")
    return repo


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    environment = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(REPO_ROOT),
                   "VALIDATION_NO_CACHE": "1"}
    environment.pop("CI", None)
    process = subprocess.Popen([sys.executable, "-m", "validation", "--all", "--format", "json"],
                               cwd=_repo(tmp_path), env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + BOUND
    while not list(temp.glob("validation-run-*/child-*/started")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the hanging file never started"
        time.sleep(0.05)
    return process, temp


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its in parents.items() if its == parent]
        found += children
        frontier += children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait_dead(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + BOUND
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


@pytest.mark.parametrize("signum, status, word", [(signal.SIGINT, 130, "SIGINT"),
                                                  (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_stops_the_run_kills_everything_and_removes_its_folders(
        tmp_path: Path, signum: int, status: int, word: str) -> None:
    process, temp = _start(tmp_path)
    processes = _descendants(process.pid)
    assert len(processes) >= 2  # the zygote and the child importing hangs.py
    process.send_signal(signum)
    out, err = process.communicate(timeout=BOUND)
    assert process.returncode == status
    assert out == b""  # no report, not even a partial one
    assert f"{word}".encode() in err and b"no report" in err and b"Traceback" not in err
    assert _wait_dead(processes) == []
    assert list(temp.iterdir()) == []


def test_after_sigkill_of_the_validator_no_child_outlives_it(tmp_path: Path) -> None:
    process, _ = _start(tmp_path)
    processes = _descendants(process.pid)
    assert len(processes) >= 2
    process.kill()
    process.wait()
    assert _wait_dead(processes) == []


O_PATH = 0o10000000  # include/uapi/asm-generic/fcntl.h (x86-64 and aarch64)


def _flags(pid: int, fd: str) -> int:
    """The open flags of a process's descriptor (/proc/<pid>/fdinfo, octal)."""
    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    return 0


def test_the_zygote_runs_without_the_validators_descriptors_or_credentials(
        tmp_path: Path) -> None:
    """What a process of the run other than the validator has: no credentials in its
    environment, no descriptor but its pipes and /dev/null, and no repository root on
    its path (the zygote's command line holds no root)."""
    os.environ["HOSTILE_TOKEN_13"] = "CANARY-13-token"
    try:
        process, _ = _start(tmp_path)
        zygote = _descendants(process.pid)[0]
        environ = Path(f"/proc/{zygote}/environ").read_bytes()
        descriptors = {os.readlink(f"/proc/{zygote}/fd/{fd}"): _flags(zygote, fd)
                       for fd in os.listdir(f"/proc/{zygote}/fd")}
        process.kill()
        process.wait()
    finally:
        del os.environ["HOSTILE_TOKEN_13"]
    assert b"CANARY-13" not in environ
    # Besides its pipes and /dev/null, only the paths a child may read, opened O_PATH
    # (no reading or writing through them) for the children's Landlock rules.
    opened = {target for target, flags in descriptors.items()
              if not target.startswith(("pipe:", "/dev/null"))}
    assert all(descriptors[target] & O_PATH for target in opened), descriptors
    assert not any(".git" in Path(target).parts for target in opened), opened
