"""The command line: exact output in both formats, exit codes, and a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from validation import cli
from validation.cli import main
from validation.loaders.dag.metadata import cache_folder
from validation.run import runner

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"
WRONG_ID = "environments/dev/dags/cases/wrong_dag_id.py"
CLEAN = "environments/dev/dags/clean/clean_dag.py"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--root", str(FIXTURE), "--dag-timeout", "5", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_is_one_line_per_problem_and_a_summary(capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    code, out, err = _run(capsys, str(FIXTURE / WRONG_ID))
    assert out == (
        f"{WRONG_ID}:7:12: DAG005 [*] [dag-id-convention] dag_id 'cases_wrong' should be "
        "'cases.wrong_dag_id' (<project folder>.<file name>)\n"
        "Found 1 error, 0 warnings in 1 file (DAG005 x1).\n"
        "[*] 1 fixable with --fix (--diff shows the changes).\n"
    )
    assert (code, err) == (1, "")


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--format", "json", str(FIXTURE / WRONG_ID), str(FIXTURE / CLEAN))
    assert code == 1
    assert json.loads(out) == {
        "problems": [{
            "path": WRONG_ID, "line": 7, "column": 12, "rule": "DAG005",
            "name": "dag-id-convention", "level": "error",
            "message": "dag_id 'cases_wrong' should be 'cases.wrong_dag_id' "
                       "(<project folder>.<file name>)",
            "fix": {"description": "set dag_id to 'cases.wrong_dag_id'", "edits": [{
                "path": WRONG_ID, "line": 7, "column": 12, "end_line": 7, "end_column": 25,
                "replacement": '"cases.wrong_dag_id"', "create": False}]},
        }],
        "summary": {"files": 2, "skipped": 0, "errors": 1, "warnings": 0,
                    "rules": {"DAG005": 1}},
    }


def test_a_clean_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, str(FIXTURE / CLEAN)) == (0, "No problems in 1 file.\n", "")


def test_warnings_alone_exit_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    project = tmp_path / "environments" / "dev" / "dags" / "clean"
    project.mkdir(parents=True)
    (project / "clean_dag.py").write_text((FIXTURE / CLEAN).read_text())
    roles = tmp_path / "environments" / "dev" / "roles"
    roles.mkdir()
    (roles / "airflow_dev_clean.yaml").write_text(
        (FIXTURE / "environments/dev/roles/airflow_dev_clean.yaml").read_text())
    code = main(["--root", str(tmp_path), "--all"])
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].startswith(
        "environments/dev/dags/clean/clean_dag.py:0:0: STR006 [*] [missing-readme]")
    assert out.splitlines()[0].endswith("(warning)")
    assert code == 0


def test_paths_are_relative_to_the_current_folder(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURE / "environments" / "dev")
    code = main(["--root", str(FIXTURE), "dags/cases/wrong_dag_id.py"])
    assert capsys.readouterr().out.startswith(f"{WRONG_ID}:7:12: DAG005")
    assert code == 1


@pytest.mark.parametrize("argv, message", [
    ([], "name at least one PATH, or use --all"),
    (["--no-such-option", "x.py"], "unrecognized arguments: --no-such-option"),
    (["--format", "xml", "x.py"], "invalid choice: 'xml'"),
    (["--jobs", "-1", "x.py"], "'--jobs -1' is not valid"),
    (["--root", "/no/such/folder", "x.py"], "--root /no/such/folder: not a directory"),
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                             message: str) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_an_unknown_config_key_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[validation]\nenvironmnets = dev\n")
    assert main(["--root", str(tmp_path), "--all"]) == 2
    assert "unknown key 'environmnets'" in capsys.readouterr().err


def test_an_internal_error_exits_3_without_a_traceback(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the validator itself is broken")

    monkeypatch.setattr(runner, "run", broken)
    monkeypatch.delenv("VALIDATION_DEBUG", raising=False)
    assert main(["--root", str(FIXTURE), CLEAN]) == cli.EXIT_INTERNAL
    out, err = capsys.readouterr()
    assert "internal error: RuntimeError: the validator itself is broken" in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize("warnings_flag", [["-W", "ignore"], []])
def test_python_m_validation_in_a_subprocess(tmp_path: Path, warnings_flag: list[str]) -> None:
    noisy = "environments/dev/dags/crashes/noisy.py"
    # The user's cache folder stays where it was: the metadata database (made once per
    # lock) is there, and is the only thing a run may write outside the repository.
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO),
           "XDG_CACHE_HOME": str(cache_folder().parent)}
    env.pop("AIRFLOW_HOME", None)
    result = subprocess.run(
        [sys.executable, *warnings_flag, "-m", "validation", noisy, WRONG_ID],
        cwd=FIXTURE, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.stdout == (
        f"{WRONG_ID}:7:12: DAG005 [*] [dag-id-convention] dag_id 'cases_wrong' should be "
        "'cases.wrong_dag_id' (<project folder>.<file name>)\n"
        "Found 1 error, 0 warnings in 2 files (DAG005 x1).\n"
        "[*] 1 fixable with --fix (--diff shows the changes).\n"
    )
    assert result.stderr == ""
    assert result.returncode == 1
    assert list(tmp_path.iterdir()) == []  # nothing written to the home folder (~/airflow)


@pytest.mark.parametrize("output", ["text", "json", "github", "sarif"])
def test_every_format_survives_a_file_name_that_is_not_utf8(tmp_path: Path, output: str) -> None:
    folder = os.fsencode(tmp_path / "environments" / "dev" / "dags" / "p")
    os.makedirs(folder)
    with open(os.path.join(folder, b"caf\xe9.py"), "w") as handle:
        handle.write("x = 1\n")
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "validation", "--root", str(tmp_path), "--all",
         "--format", output], capture_output=True, cwd=REPO, timeout=120)
    assert (done.returncode, done.stderr) == (1, b"")
    assert b"DAG001" in done.stdout
