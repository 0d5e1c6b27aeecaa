"""Hostile input, end to end: the corpus of tests/hostile/ (and the files too odd or too
large to commit) validated in one run of the command line, with the real Airflow.

Each bad file yields a clear problem with a rule id and a location, the files that only
misbehave yield nothing, every other file is still validated, the exit status says
"problems", no traceback appears, and nothing outside the children's temporary folders
changed: not the repository, not HOME, not the user's AIRFLOW_HOME.

The kernel_* cases (and forges_others, poisons_cache) switch the audit-hook guard off
and go through ctypes: what stops them is the kernel's lock-down. Each class is checked
by its effect: no file outside, nothing at the listeners on 127.0.0.1, no process left,
the bystander process alive, no secret in the output, no planted cache entry. Without
kernel containment they are left out (and under CI=true that fails the run).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hostile_repo
import pytest

from validation.cli import EXIT_PROBLEMS, main
from validation.loaders.dag import lockdown
from validation.loaders.dag.metadata import cache_folder

KERNEL = lockdown.available().kernel

SECRETS = {"AWS_SECRET_ACCESS_KEY": "hostile-secret", "GITHUB_TOKEN": "hostile-secret",
           "ACTIONS_RUNTIME_TOKEN": "hostile-secret", "HOSTILE_PASSWORD": "hostile-secret",
           "MY_API_KEY": "hostile-secret", "HOSTILE_ALLOWED": "yes"}


class Run:
    def __init__(self, folders: dict[str, Path], before: dict[str, dict[str, str]],
                 status: int, output: str, errors: str) -> None:
        self.folders, self.before = folders, before
        self.listeners: list[socket.socket] = []
        self.bystander: subprocess.Popen[bytes] | None = None
        self.cache_dir: Path | None = None
        self.status, self.output, self.errors = status, output, errors
        self.problems: list[dict[str, Any]] = json.loads(output)["problems"]

    def at(self, path: str) -> list[dict[str, Any]]:
        return [problem for problem in self.problems if problem["path"] == path]


@pytest.fixture(scope="module", params=["no-cache", "cache"])
def hostile(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The corpus validated once without the cache, and with it: a cold run that fills
    the cache, then the warm run the tests look at (the cache reads every file too)."""
    base = tmp_path_factory.mktemp("hostile")
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    # Its own session, so that no kill of a group that got through could reach pytest.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"],
                                 start_new_session=True)
    extra = {"{TCP_PORT}": str(tcp.getsockname()[1]), "{UDP_PORT}": str(udp.getsockname()[1]),
             "{BYSTANDER}": str(bystander.pid)}
    folders = hostile_repo.build(base, extra, kernel=KERNEL)
    before = {name: hostile_repo.tree_hash(folder) for name, folder in folders.items()}
    # The user's cache stays where it was: the metadata database (once per lock) is there.
    user_cache = str(cache_folder().parent)
    capture = pytest.MonkeyPatch()
    capture.setenv("XDG_CACHE_HOME", user_cache)
    for name, value in {**SECRETS, "HOME": str(folders["home"]),
                        "AIRFLOW_HOME": str(folders["airflow_home"])}.items():
        capture.setenv(name, value)
    argv = ["--all", "--format", "json"]
    if request.param == "cache":
        capture.delenv("VALIDATION_NO_CACHE", raising=False)
        capture.setenv("XDG_CACHE_HOME", str(base / "xdg"))  # the signing key
        argv += ["--cache-dir", str(base / "cache")]
    capture.chdir(folders["repo"])
    try:
        runs = [_main(argv) for _ in range(1 if request.param == "no-cache" else 2)]
    finally:
        capture.undo()
    status, output, errors = runs[-1]
    assert all(run == runs[-1] for run in runs), "a warm run differs from the cold one"
    result = Run(folders, before, status, output, errors)
    result.listeners, result.bystander = [tcp, udp], bystander
    result.cache_dir = base / "cache" if request.param == "cache" else None
    yield result
    for listener in (tcp, udp):
        listener.close()
    bystander.kill()
    bystander.wait()
    hostile_repo.remove(base)


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _key(problem: dict[str, Any]) -> tuple[str, int, str]:
    return problem["path"], problem["line"], problem["rule"]


def test_every_bad_file_yields_its_problem_at_its_line(hostile: Run) -> None:
    expected = hostile_repo.marked(hostile.folders["repo"]) | hostile_repo.GENERATED
    found = {_key(problem) for problem in hostile.problems}
    assert expected - found == set()


@pytest.mark.parametrize("path", hostile_repo.HARMLESS)
def test_files_that_only_misbehave_yield_nothing(hostile: Run, path: str) -> None:
    assert hostile.at(path) == []


def test_the_run_reports_problems_without_a_traceback(hostile: Run) -> None:
    assert hostile.status == EXIT_PROBLEMS
    assert "Traceback" not in hostile.output + hostile.errors
    assert hostile.errors == ""
    assert not any("NOISE" in p["message"] or "xxxxxxxx" in p["message"]
                   for p in hostile.problems)


def test_nothing_outside_the_temporary_folders_changed(hostile: Run) -> None:
    for name, folder in hostile.folders.items():
        assert hostile_repo.tree_hash(folder) == hostile.before[name], name


def test_a_forged_answer_is_a_crash_and_is_never_unpickled(hostile: Run) -> None:
    [problem] = hostile.at(f"{hostile_repo.DAGS}/forges_outcome.py")
    assert problem["rule"] == "DAG002"
    assert "could not be read" in problem["message"]


def test_refusals_say_what_was_refused_and_what_to_do(hostile: Run) -> None:
    messages = {p["path"].rsplit("/", 1)[1]: p["message"] for p in hostile.problems
                if p["rule"] in ("DAG001", "DAG002")}
    assert "does not allow starting a process (subprocess.Popen)" in messages["starts_process.py"]
    assert "does not allow starting a process (os.fork)" in messages["fork_bomb.py"]
    assert "does not allow signalling another process" in messages["kills_parent.py"]
    assert "at most 64 threads" in messages["thread_bomb.py"]
    assert "RecursionError" in messages["recursion.py"]
    assert "null bytes" in messages["null_bytes.py"]
    assert "not valid UTF-8" in messages["not_utf8.py"]
    assert "larger than 1,000,000 bytes" in messages["huge.py"]
    assert "not a regular file" in messages["fifo.py"]


def test_yaml_that_would_explode_or_run_code_is_refused(hostile: Run) -> None:
    def message(stem: str) -> str:
        [problem] = [p for p in hostile.at(f"{hostile_repo.ROLES}/airflow_dev_{stem}.yaml")
                     if p["rule"] == "ROL001"]
        return str(problem["message"])

    assert "aliases" in message("billion_laughs")
    assert "python/object" in message("python_object")
    assert "too many" in message("huge") or "larger than" in message("huge")
    assert "nested" in message("deep_flow")
    assert "tab" in message("tabs") or "\\t" in message("tabs")


def test_files_after_the_saboteurs_are_validated_as_if_alone(hostile: Run) -> None:
    # One worker (jobs = 1), files in order: patches_* and the crashes ran before these.
    assert hostile.at(f"{hostile_repo.DAGS}/z_after_everything.py") == []
    assert hostile.at(f"{hostile_repo.DAGS}/writes_everywhere.py") == []


def test_no_worker_or_process_it_started_is_left(hostile: Run) -> None:
    children = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and hostile.bystander and int(name) != hostile.bystander.pid:
            children.append(name)
    assert children == []


# -- what only the kernel stops ------------------------------------------------------------

kernel_only = pytest.mark.skipif(not KERNEL and os.environ.get("CI") != "true",
                                 reason=lockdown.available().describe())


@kernel_only
@pytest.mark.parametrize("path", hostile_repo.KERNEL_HARMLESS)
def test_files_that_try_what_only_the_kernel_stops_yield_nothing(
        hostile: Run, path: str) -> None:
    """Each ran to its end (a valid DAG), so every attempt it made was refused."""
    assert hostile.at(path) == []


@kernel_only
def test_no_secret_reached_the_report(hostile: Run) -> None:
    for secret in (hostile_repo.CANARY, "hostile-secret"):
        assert secret not in hostile.output + hostile.errors


@kernel_only
def test_the_listeners_on_localhost_received_nothing(hostile: Run) -> None:
    tcp, udp = hostile.listeners
    for listener in (tcp, udp):
        listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        tcp.accept()  # the run is over: a connection it made would be queued
    with pytest.raises(BlockingIOError):
        udp.recv(100)


@kernel_only
def test_no_process_a_file_started_exists(hostile: Run) -> None:
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            comm = Path(f"/proc/{name}/comm").read_bytes()
        except OSError:
            continue
        assert b"hostile-" not in cmdline + comm, (name, cmdline)


@kernel_only
def test_the_bystander_process_was_not_signalled(hostile: Run) -> None:
    assert hostile.bystander is not None and hostile.bystander.poll() is None


@kernel_only
def test_a_file_forging_others_results_loses_only_its_own(hostile: Run) -> None:
    [problem] = hostile.at(f"{hostile_repo.DAGS}/forges_others.py")
    assert problem["rule"] == "DAG002" and "could not be read" in problem["message"]
    assert hostile.at(f"{hostile_repo.DAGS}/z_after_everything.py") == []
    assert hostile.at(f"{hostile_repo.DAGS}/kills_parent.py") != []  # still its own DAG001


@kernel_only
def test_no_entry_was_planted_in_the_cache(hostile: Run) -> None:
    if hostile.cache_dir is not None:
        assert not (hostile.cache_dir / "planted").exists()
        assert all(entry.name != "planted" for entry in hostile.cache_dir.rglob("*"))


def test_root_files_airflow_would_import_are_reported_and_never_run(hostile: Run) -> None:
    assert [p["rule"] for p in hostile.at("airflow_local_settings.py")] == ["STR010"]
    assert [p["rule"] for p in hostile.at("plugins/hostile_plugin.py")] == ["STR010"]
    assert not (hostile.folders["outside"] / "local_settings_ran").exists()
    assert not (hostile.folders["outside"] / "plugin_ran").exists()
