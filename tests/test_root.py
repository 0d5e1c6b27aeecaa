"""Where the repository is: found by walking up from the named files (or the current
folder) to the folder that holds environments/; --root wins. Named files outside the
places the layout covers are skipped, and said to be."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from validation.cli import EXIT_USAGE, main
from validation.loaders.paths import find_root

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAG = "environments/dev/dags/examples/multiple_tasks.py"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of this repository's examples, with one DAG whose dag_id is wrong."""
    root = tmp_path / "repo"
    for name in ("environments", "imports", "setup.cfg"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    dag = root / EXAMPLE_DAG
    dag.write_text(dag.read_text().replace('dag_id="examples.multiple_tasks"',
                                           'dag_id="examples.wrong"'))
    (root / "notes.txt").write_text("not validated\n")
    return root


def _cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """python -m validation as the installed package runs it: from any folder (the
    editable install of `make venv` makes the package importable; here PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "VALIDATION_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-W", "ignore", "-m", "validation", *argv],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_find_root_walks_up_to_the_folder_with_environments(repo: Path) -> None:
    assert find_root(repo / "environments" / "dev" / "dags" / "examples") == repo
    assert find_root(repo) == repo
    assert find_root(repo / "no" / "such" / "folder") == repo
    assert find_root(Path("/")) is None


def test_a_setup_cfg_with_a_validation_section_marks_the_root(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "setup.cfg").write_text("[validation]\nenvironments = dev\n")
    (tmp_path / "a" / "b" / "setup.cfg").write_text("[flake8]\nmax-line-length = 100\n")
    assert find_root(tmp_path / "a" / "b") == tmp_path / "a"


def test_run_from_the_dags_folder_finds_the_wrong_dag_id(repo: Path) -> None:
    folder = repo / "environments" / "dev" / "dags" / "examples"
    done = _cli(folder, "multiple_tasks.py")
    assert done.stdout.splitlines()[0].startswith(
        f"{EXAMPLE_DAG}:26:12: DAG005 [*] [dag-id-convention] dag_id 'examples.wrong' should be "
        "'examples.multiple_tasks'")
    assert done.returncode == 1


def test_run_from_elsewhere_naming_files_of_the_repository(repo: Path, tmp_path: Path) -> None:
    done = _cli(tmp_path, str(repo / EXAMPLE_DAG))
    assert f"{EXAMPLE_DAG}:26:12: DAG005" in done.stdout and done.returncode == 1


def test_a_clean_file_from_a_subfolder_is_clean(repo: Path) -> None:
    folder = repo / "environments" / "dev" / "dags" / "examples"
    done = _cli(folder, "use_imports.py", "README.md")
    assert (done.stdout, done.returncode) == ("No problems in 2 files.\n", 0)


def test_files_outside_the_layout_are_skipped_and_said_to_be(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = repo / "environments" / "dev" / "dags" / "examples" / "README.md"
    assert main(["--no-cache", str(repo / "notes.txt"), str(repo / "setup.cfg"),
                 str(readme)]) == 0
    assert capsys.readouterr().out == (
        "No problems in 1 file. Skipped 2 files not under environments/ or imports/: "
        "notes.txt, setup.cfg.\n")


def test_files_of_two_repositories_are_a_usage_error(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    shutil.copytree(repo / "environments", other / "environments")
    assert main(["--no-cache", str(repo / EXAMPLE_DAG), str(other / EXAMPLE_DAG)]) == EXIT_USAGE
    assert "the named files are in more than one repository" in capsys.readouterr().err


def test_root_wins(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # with --root elsewhere, the repository's file is outside it: STR001, as before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--no-cache", "--root", str(empty), str(repo / EXAMPLE_DAG)]) == 1
    assert "STR001 [unknown-location] outside the repository" in capsys.readouterr().out


def test_the_package_runs_from_any_folder_of_the_checkout() -> None:
    """`make venv` installs the package in editable mode, so `python -m validation`
    works from a subfolder without PYTHONPATH (no repository folder but validation/ is
    made importable: imports/ and environments/ stay off sys.path)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", "import validation, sys; "
                           "print(validation.__file__); import imports"],
                          cwd=REPO / "environments", env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == str(REPO / "validation" / "__init__.py")
    assert "No module named 'imports'" in done.stderr
