"""Hostile input, end to end: the corpus of tests/hostile/ (and the files too odd or too
large to commit) validated in one run of the command line, with the real Airflow.

Each bad file yields a clear problem with a rule id and a location, the files that only
misbehave yield nothing, every other file is still validated, the exit status says
"problems", no traceback appears, and nothing outside the worker's temporary folders
changed: not the repository, not HOME, not the user's AIRFLOW_HOME.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hostile_repo
import pytest

from validation.cli import EXIT_PROBLEMS, main
from validation.loaders.dag.metadata import cache_folder

SECRETS = {"AWS_SECRET_ACCESS_KEY": "hostile-secret", "GITHUB_TOKEN": "hostile-secret",
           "ACTIONS_RUNTIME_TOKEN": "hostile-secret", "HOSTILE_PASSWORD": "hostile-secret",
           "MY_API_KEY": "hostile-secret", "HOSTILE_ALLOWED": "yes"}


class Run:
    def __init__(self, folders: dict[str, Path], before: dict[str, dict[str, str]],
                 status: int, output: str, errors: str) -> None:
        self.folders, self.before = folders, before
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
    folders = hostile_repo.build(base)
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
    yield Run(folders, before, status, output, errors)
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
        if parent == os.getpid():
            children.append(name)
    assert children == []
