"""Hostile paths on the command line: each is a clear problem (or a usage error), never a
hang or a traceback, and the other paths of the run are still validated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from validation.config import Config
from validation.problems import Problem, Report
from validation.run.runner import run

DAGS = "environments/dev/dags/paths"
# Imported for real: the problem proves the file was imported.
IMPORTED = 'raise ValueError("imported")\n'
CONFIG = Config(environments=("dev",), dag_timeout=20.0, jobs=1)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / DAGS).mkdir(parents=True)
    (root / DAGS / "README.md").write_text("# paths\n")
    (root / DAGS / "good.py").write_text(IMPORTED)
    (tmp_path / "outside.py").write_text(IMPORTED)
    return root


def _run(root: Path, *paths: str) -> Report:
    return run(root, list(paths), everything=False, config=CONFIG, cwd=root)


def _rules(report: Report, path: str) -> list[str]:
    return [problem.rule for problem in report.problems if problem.path == path]


def _good_was_validated(report: Report) -> bool:
    return any(p.path == f"{DAGS}/good.py" and p.rule == "DAG001" and "imported" in p.message
               for p in report.problems)


def test_missing_file_and_folder_are_str008(repo: Path) -> None:
    report = _run(repo, f"{DAGS}/nope.py", DAGS, "", f"{DAGS}/good.py")
    assert _rules(report, f"{DAGS}/nope.py") == ["STR008"]
    assert _rules(report, DAGS) == ["STR008"]
    assert _rules(report, ".") == ["STR008"]  # "" names the current folder
    assert _good_was_validated(report)


def test_outside_the_root_by_path_dots_or_symlink_is_str001(repo: Path) -> None:
    outside = repo.parent / "outside.py"
    (repo / DAGS / "escape.py").symlink_to(outside)
    report = _run(repo, str(outside), "../outside.py", f"{DAGS}/escape.py",
                  f"{DAGS}/good.py")
    for path in (str(outside), "../outside.py", f"{DAGS}/escape.py"):
        assert _rules(report, path) == ["STR001"], path
    assert _good_was_validated(report)
    assert not any("imported" in p.message for p in report.problems if p.path != f"{DAGS}/good.py")


def test_dots_inside_the_root_name_the_same_file(repo: Path) -> None:
    report = _run(repo, "environments/dev/../dev/dags/./paths/good.py", f"{DAGS}/good.py")
    assert [p.path for p in report.problems] == [f"{DAGS}/good.py"]
    assert _good_was_validated(report)


def test_spaces_and_non_ascii_names_are_validated(repo: Path) -> None:
    names = ["my dag.py", "café.py", "даг.py"]
    for name in names:
        (repo / DAGS / name).write_text(IMPORTED)
    report = _run(repo, *(f"{DAGS}/{name}" for name in names))
    for name in names:
        rules = _rules(report, f"{DAGS}/{name}")
        assert "STR004" in rules and "DAG001" in rules, (name, rules)


def test_a_file_name_that_is_not_utf8_is_a_problem_not_a_crash(repo: Path) -> None:
    name = os.fsdecode(b"bad\xff.py")
    (repo / DAGS / name).write_text(IMPORTED)
    report = run(repo, [], everything=True, config=CONFIG, cwd=repo)
    [problem] = [p for p in report.problems if p.path == f"{DAGS}/{name}" and p.rule == "DAG001"]
    assert "not valid UTF-8" in problem.message
    assert _good_was_validated(report)


def test_a_fifo_never_blocks(repo: Path) -> None:
    os.mkfifo(repo / DAGS / "fifo.py")
    os.mkfifo(repo / "environments/dev/roles_fifo")
    report = run(repo, [f"{DAGS}/fifo.py"], everything=True, config=CONFIG, cwd=repo)
    [problem] = [p for p in report.problems if p.path == f"{DAGS}/fifo.py"]
    assert problem.rule == "DAG001"
    assert "not a regular file" in problem.message
    assert _good_was_validated(report)


def test_a_symlink_loop_is_a_missing_file(repo: Path) -> None:
    (repo / DAGS / "loop.py").symlink_to(repo / DAGS / "loop.py")
    report = _run(repo, f"{DAGS}/loop.py", f"{DAGS}/good.py")
    assert _rules(report, f"{DAGS}/loop.py") == ["STR008"]
    assert _good_was_validated(report)


def test_a_file_without_read_permission_is_a_problem(repo: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading a file")
    path = repo / DAGS / "secret.py"
    path.write_text(IMPORTED)
    path.chmod(0)
    try:
        report = _run(repo, f"{DAGS}/secret.py", f"{DAGS}/good.py")
    finally:
        path.chmod(0o644)
    [problem] = [p for p in report.problems if p.path == f"{DAGS}/secret.py"]
    assert (problem.rule, "Permission denied" in problem.message) == ("DAG001", True)
    assert _good_was_validated(report)


def test_a_file_that_cannot_be_opened_is_a_problem_even_as_root(repo: Path) -> None:
    # The way root meets an unreadable file: a name the kernel refuses to open (ELOOP).
    (repo / DAGS / "a.py").symlink_to("b.py")
    (repo / DAGS / "b.py").symlink_to("a.py")
    from validation.loaders.source import read_source

    error = read_source(str(repo / DAGS / "a.py"))
    assert not isinstance(error, str)
    assert "cannot read the file" in error.message


def test_ten_thousand_paths_in_one_call(repo: Path) -> None:
    paths = [f"{DAGS}/missing_{number}.py" for number in range(10_000)] + [f"{DAGS}/good.py"]
    report = _run(repo, *paths)
    missing: list[Problem] = [p for p in report.problems if p.rule == "STR008"]
    assert len(missing) == 10_000
    assert report.files == 10_001
    assert _good_was_validated(report)
