"""The text format on a terminal (colour, --quiet) and how --format auto picks a format."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from validation.cli import main
from validation.loaders.files import line_texts
from validation.problems import Level, Problem, Report
from validation.reporters import FORMATS, Options, options_for, resolve_format, text
from validation.reporters.text import use_colour
from validation.vcs.diff import changed_lines

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"
WRONG_ID = "environments/dev/dags/cases/wrong_dag_id.py"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

ERROR = Problem("environments/dev/dags/a/b.py", 7, 12, "DAG005", "dag-id-convention",
                Level.ERROR, "dag_id 'x' should be 'a.b'")
WARNING = Problem("environments/dev/dags/a/b.py", 0, 0, "STR006", "missing-readme",
                  Level.WARNING, "add a README.md")
OTHER_WARNING = Problem("environments/dev/roles/r.yaml", 3, 1, "ROL014", "s3-path-no-objects",
                        Level.WARNING, "add /*")
REPORT = Report([ERROR, WARNING, OTHER_WARNING], 2)

PLAIN = (
    "environments/dev/dags/a/b.py:7:12: DAG005 [dag-id-convention] dag_id 'x' should be 'a.b'\n"
    "environments/dev/dags/a/b.py:0:0: STR006 [missing-readme] add a README.md (warning)\n"
    "environments/dev/roles/r.yaml:3:1: ROL014 [s3-path-no-objects] add /* (warning)\n"
    "Found 1 error, 2 warnings in 2 files (DAG005 x1, ROL014 x1, STR006 x1).\n"
)


def test_plain_text_is_unchanged_by_default() -> None:
    assert text(REPORT) == PLAIN
    assert text(REPORT, Options()) == PLAIN
    assert text(Report([], 3)) == "No problems in 3 files.\n"


def test_colour_only_adds_escape_codes() -> None:
    coloured = text(REPORT, Options(colour=True))
    assert coloured != PLAIN
    assert ANSI.sub("", coloured) == PLAIN
    first, second, _, summary = coloured.splitlines()
    assert "\x1b[1m\x1b[31mDAG005\x1b[0m" in first  # an error's rule id in bold red
    assert "\x1b[1m\x1b[33mSTR006\x1b[0m" in second  # a warning's in bold yellow
    assert second.endswith("\x1b[33m (warning)\x1b[0m")
    assert summary.startswith("\x1b[31mFound")
    assert text(Report([], 1), Options(colour=True)) == "\x1b[32mNo problems in 1 file.\x1b[0m\n"


@pytest.mark.parametrize("terminal, env, expected", [
    (True, {}, True),
    (False, {}, False),
    (True, {"NO_COLOR": "1"}, False),
    (True, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
    (False, {"FORCE_COLOR": "1"}, True),
    (False, {"FORCE_COLOR": ""}, False),
    (True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
])
def test_use_colour(terminal: bool, env: dict[str, str], expected: bool) -> None:
    assert use_colour(terminal, env) is expected


def test_quiet_prints_errors_only_and_counts_the_hidden_warnings() -> None:
    assert text(REPORT, Options(quiet=True)) == (
        "environments/dev/dags/a/b.py:7:12: DAG005 [dag-id-convention] dag_id 'x' should be "
        "'a.b'\n"
        "Found 1 error, 2 warnings in 2 files (DAG005 x1, ROL014 x1, STR006 x1). "
        "2 warnings hidden by --quiet.\n"
    )
    assert text(Report([WARNING], 1), Options(quiet=True)) == (
        "Found 0 errors, 1 warning in 1 file (STR006 x1). 1 warning hidden by --quiet.\n")
    assert text(Report([ERROR], 1), Options(quiet=True)) == text(Report([ERROR], 1))


def test_quiet_on_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    project = tmp_path / "environments" / "dev" / "dags" / "clean"
    project.mkdir(parents=True)
    clean = FIXTURE / "environments/dev/dags/clean/clean_dag.py"
    (project / "clean_dag.py").write_text(clean.read_text())
    roles = tmp_path / "environments" / "dev" / "roles"
    roles.mkdir()
    role = FIXTURE / "environments/dev/roles/airflow_dev_clean.yaml"
    (roles / role.name).write_text(role.read_text())
    code = main(["--root", str(tmp_path), "--quiet", "--all"])
    out = capsys.readouterr().out
    assert code == 0
    assert "STR006" in out  # in the summary's counts...
    assert out.count("\n") == 1  # ...but on no line of its own
    assert out.rstrip().endswith("hidden by --quiet.")


@pytest.mark.parametrize("env, expected", [
    ({"GITHUB_ACTIONS": "true"}, "github"),
    ({"GITHUB_ACTIONS": "false"}, "text"),
    ({"GITHUB_ACTIONS": "1"}, "text"),
    ({}, "text"),
])
def test_auto_is_github_inside_github_actions(env: dict[str, str], expected: str) -> None:
    assert resolve_format("auto", env) == expected
    assert resolve_format("json", env) == "json"


def test_auto_on_the_command_line(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["--root", str(FIXTURE), str(FIXTURE / WRONG_ID)]) == 1
    assert capsys.readouterr().out.startswith(
        f"::error file={WRONG_ID},line=7,col=12,title=DAG005 [dag-id-convention]::")
    assert main(["--root", str(FIXTURE), "--format", "text", str(FIXTURE / WRONG_ID)]) == 1
    assert capsys.readouterr().out.startswith(f"{WRONG_ID}:7:12: DAG005")


def test_options_for_colours_text_on_a_terminal_only(tmp_path: Path) -> None:
    assert options_for("text", quiet=False, env={}, is_terminal=True).colour
    assert not options_for("text", quiet=False, env={}, is_terminal=False).colour
    assert not options_for("json", quiet=False, env={}, is_terminal=True).colour
    assert not options_for("text", quiet=False, env={"NO_COLOR": "1"},
                           is_terminal=True).colour


def test_options_for_github_without_git_knows_no_changed_lines(tmp_path: Path) -> None:
    assert changed_lines(tmp_path, "main") is None
    options = options_for("github", quiet=True, env={"GITHUB_BASE_REF": "main"},
                          is_terminal=False, changed=None)
    assert options.changed is None and options.quiet


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_no_format_crashes_on_odd_input(name: str, tmp_path: Path) -> None:
    odd = [
        Problem("dir with space/a,b:c.py", 1, 1, "DAG005", "dag-id-convention", Level.ERROR,
                "ünïcödé ✓ 100% \r\n| pipes | and `ticks` <b>html</b> " + "x" * 100_000),
        Problem("./environments/../x.py", 0, 0, "XXX999", "", Level.WARNING, ""),
        Problem("/abs/olute path.py", 10**6, 10**6, "STR001", "unknown-location", Level.ERROR,
                "\x00\x1b[31m control"),
        Problem("", -1, -1, "", "", Level.WARNING, "\n"),
    ]
    options = Options(changed=frozenset({("dir with space/a,b:c.py", 1)}),
                      line_texts=line_texts(tmp_path, ((p.path, p.line) for p in odd)))
    assert FORMATS[name](Report(odd, 4), options).endswith("\n")


def _in_a_terminal(root: Path, env: dict[str, str]) -> str:
    """The CLI's stdout when it is a real (pseudo-)terminal."""
    leader, follower = pty.openpty()
    repo = Path(__file__).resolve().parent.parent
    try:
        subprocess.run([sys.executable, "-W", "ignore", "-m", "validation", "--root", str(root),
                        "--all"], stdout=follower, stderr=subprocess.DEVNULL, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(repo), **env}, check=False)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_real_terminal_gets_colour_unless_no_color(tmp_path: Path) -> None:
    roles = tmp_path / "environments" / "dev" / "roles"
    roles.mkdir(parents=True)
    (roles / "airflow_dev_a.yml").write_text("a: 1\n")
    coloured = _in_a_terminal(tmp_path, {})
    assert "\x1b[1m\x1b[31mSTR005\x1b[0m" in coloured
    plain = _in_a_terminal(tmp_path, {"NO_COLOR": "1"})
    assert plain == ANSI.sub("", coloured)
    assert plain.startswith("environments/dev/roles/airflow_dev_a.yml:0:0: STR005 [role-extension]")
