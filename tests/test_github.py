"""The github format: workflow commands as the Actions runner parses them, changed lines
first (from a real throwaway git repository), and the Markdown step summary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from validation.cli import main
from validation.problems import Level, Problem, Report
from validation.reporters import Options
from validation.reporters.github import (
    annotation,
    escape_data,
    escape_property,
    github,
    markdown_cell,
    not_annotated,
    ordered,
    step_summary,
)
from validation.vcs.diff import changed_lines, parse_diff

DAG = "environments/dev/dags/a/b.py"
ERROR = Problem(DAG, 7, 12, "DAG005", "dag-id-convention", Level.ERROR, "dag_id 'x' is wrong")
WARNING = Problem(DAG, 0, 0, "STR006", "missing-readme", Level.WARNING, "add a README.md")
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _problem(path: str = DAG, line: int = 1, level: Level = Level.ERROR,
             message: str = "m") -> Problem:
    return Problem(path, line, 1 if line else 0, "DAG005", "dag-id-convention", level, message)


# --- workflow commands ----------------------------------------------------------------

def test_data_escapes_percent_cr_and_lf_only() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_data("%0A") == "%250A"  # a literal %0A stays literal


def test_properties_also_escape_colon_and_comma() -> None:
    assert escape_property("dir, x/a:b%\n.py") == "dir%2C x/a%3Ab%25%0A.py"


def test_an_error_annotation() -> None:
    assert annotation(ERROR) == (
        f"::error file={DAG},line=7,col=12,title=DAG005 [dag-id-convention]::"
        "dag_id 'x' is wrong")


def test_a_warning_without_position_leaves_out_line_and_col() -> None:
    assert annotation(WARNING) == (
        f"::warning file={DAG},title=STR006 [missing-readme]::add a README.md")


def test_a_line_without_column_leaves_out_col() -> None:
    problem = Problem(DAG, 3, 0, "ROL001", "yaml-syntax", Level.ERROR, "bad")
    assert annotation(problem) == f"::error file={DAG},line=3,title=ROL001 [yaml-syntax]::bad"


def test_odd_paths_and_messages_are_escaped() -> None:
    problem = Problem("./dir, with: odd/100%.py", 2, 3, "STR004", "bad-name", Level.WARNING,
                      "first line\nsecond: line, 50%\r")
    assert annotation(problem) == (
        "::warning file=dir%2C with%3A odd/100%25.py,line=2,col=3,"
        "title=STR004 [bad-name]::first line%0Asecond: line, 50%25%0D")


def test_the_output_ends_with_the_summary_line_for_the_log() -> None:
    assert github(Report([ERROR, WARNING], 1)) == (
        f"{annotation(ERROR)}\n{annotation(WARNING)}\n"
        "Found 1 error, 1 warning in 1 file (DAG005 x1, STR006 x1).\n")
    assert github(Report([], 2)) == "No problems in 2 files.\n"


def test_quiet_annotates_errors_only() -> None:
    assert github(Report([ERROR, WARNING], 1), Options(quiet=True)) == (
        f"{annotation(ERROR)}\n"
        "Found 1 error, 1 warning in 1 file (DAG005 x1, STR006 x1). "
        "1 warning hidden by --quiet.\n")


# --- changed lines first --------------------------------------------------------------

def test_problems_on_changed_lines_come_first_in_report_order() -> None:
    problems = [_problem("a.py", 1), _problem("a.py", 5), _problem("b.py", 0),
                _problem("c.py", 2), _problem("c.py", 3)]
    changed = frozenset({("a.py", 5), ("a.py", 0), ("b.py", 0), ("c.py", 3), ("c.py", 0)})
    assert ordered(problems, changed) == [problems[1], problems[2], problems[4],
                                          problems[0], problems[3]]
    assert ordered(problems, None) == problems
    assert ordered(problems, frozenset()) == problems


def test_changed_lines_match_paths_with_a_leading_dot_slash() -> None:
    problems = [_problem("a.py", 1), _problem("./b.py", 4)]
    assert ordered(problems, frozenset({("b.py", 4)})) == problems[::-1]


def test_the_annotations_github_shows_are_those_on_changed_lines() -> None:
    old = [_problem("old.py", line) for line in range(1, 13)]
    new = _problem("new.py", 1)
    out = github(Report([*old, new], 2), Options(changed=frozenset({("new.py", 1)})))
    assert out.splitlines()[0] == annotation(new)


def test_not_annotated_counts_beyond_ten_of_each_level() -> None:
    errors = [_problem(line=n) for n in range(1, 13)]
    warnings = [_problem(line=n, level=Level.WARNING) for n in range(1, 4)]
    assert not_annotated(errors + warnings) == 2
    assert not_annotated(warnings) == 0
    many_warnings = [_problem(line=n, level=Level.WARNING) for n in range(1, 21)]
    assert not_annotated(errors + many_warnings) == 12


# --- parse_diff -----------------------------------------------------------------------

def test_parse_diff_reads_hunks_of_the_new_side() -> None:
    diff = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n"
        "@@ -3 +3 @@\n-x\n+y\n"
        "@@ -10,0 +11,2 @@\n+p\n+q\n"
        "@@ -20,2 +21,0 @@\n-gone\n-gone\n"
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\n--- a/old.py\n+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n-a\n-b\n"
        "diff --git a/with space.py b/with space.py\n--- /dev/null\n+++ b/with space.py\t\n"
        "@@ -0,0 +1 @@\n+z\n"
        "diff --git \"a/t\\tab.py\" \"b/t\\tab.py\"\n--- /dev/null\n+++ \"b/t\\tab.py\"\n"
        "@@ -0,0 +1 @@\n+z\n"
        "diff --git \"a/caf\\303\\251.py\" \"b/caf\\303\\251.py\"\n--- a/x\n"
        "+++ \"b/caf\\303\\251.py\"\n@@ -1 +1 @@\n-a\n+b\n"
    )
    assert parse_diff(diff) == {
        ("a.py", 0), ("a.py", 3), ("a.py", 11), ("a.py", 12),
        ("with space.py", 0), ("with space.py", 1),
        ("t\tab.py", 0), ("t\tab.py", 1),
        ("café.py", 0), ("café.py", 1),
    }
    assert parse_diff("") == frozenset()
    assert parse_diff("@@ -1 +1 @@\nno file header before the hunk\n") == frozenset()


# --- changed_lines with a real git repository -----------------------------------------

def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose ``main`` has three files, with a branch ``feature`` checked out
    that edits one, adds two and deletes one (and an uncommitted edit on top)."""
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.py").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    (root / "gone.py").write_text("bye\n")
    (root / "same.py").write_text("same\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "checkout", "-q", "-b", "feature")
    lines = (root / "sub" / "a.py").read_text().splitlines(keepends=True)
    lines[4] = "changed 5\n"
    (root / "sub" / "a.py").write_text("new first\n" + "".join(lines))
    (root / "sub" / "odd, name: é.py").write_text("x\ny\n")
    (root / "gone.py").unlink()
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "feature")
    (root / "same.py").write_text("same\nuncommitted\n")
    return root


@needs_git
def test_changed_lines_since_a_branch(repo: Path) -> None:
    assert changed_lines(repo, "main") == {
        ("sub/a.py", 0), ("sub/a.py", 1), ("sub/a.py", 6),
        ("sub/odd, name: é.py", 0), ("sub/odd, name: é.py", 1), ("sub/odd, name: é.py", 2),
        ("same.py", 0), ("same.py", 2),
    }


@needs_git
def test_changed_lines_are_relative_to_a_root_below_the_top(repo: Path) -> None:
    assert changed_lines(repo / "sub", "main") == {
        ("a.py", 0), ("a.py", 1), ("a.py", 6),
        ("odd, name: é.py", 0), ("odd, name: é.py", 1), ("odd, name: é.py", 2),
    }


@needs_git
def test_origin_branch_is_preferred_as_actions_checkout_fetches_it(repo: Path) -> None:
    base = _git(repo, "rev-parse", "main").strip()
    _git(repo, "update-ref", "refs/remotes/origin/main", base)
    _git(repo, "checkout", "-q", "main")  # local main now differs from the work tree...
    (repo / "same.py").write_text("same\n")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "local main moves on")
    (repo / "sub" / "a.py").write_text("edited\n")
    assert ("sub/a.py", 1) in changed_lines(repo, "main")  # ...origin/main is the base


@needs_git
@pytest.mark.parametrize("base", ["no-such-branch", "", "--output=/tmp/x", "main..feature"])
def test_an_unknown_or_odd_ref_gives_none(repo: Path, base: str) -> None:
    assert changed_lines(repo, base) is None


def test_not_a_repository_gives_none(tmp_path: Path) -> None:
    assert changed_lines(tmp_path, "main") is None
    assert changed_lines(tmp_path / "missing", "main") is None


@needs_git
def test_no_git_gives_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert changed_lines(repo, "main")
    monkeypatch.setenv("PATH", "")
    assert changed_lines(repo, "main") is None


# --- the step summary -----------------------------------------------------------------

def test_markdown_cells_stay_one_cell_and_render_as_text() -> None:
    assert markdown_cell("a | b") == "a \\| b"
    assert markdown_cell("one\ntwo\r\nthree") == "one<br>two<br>three"
    assert markdown_cell("<project folder>.<file name>") == (
        "\\<project folder\\>.\\<file name\\>")
    assert markdown_cell("__init__.py *x* `y` [z](w) &amp;") == (
        "\\_\\_init\\_\\_.py \\*x\\* \\`y\\` \\[z\\](w) \\&amp;")


def test_step_summary_lists_every_problem() -> None:
    report = Report([ERROR, WARNING], 1)
    assert step_summary(report) == (
        "## Validation\n\n"
        "Found 1 error, 1 warning in 1 file (DAG005 x1, STR006 x1).\n\n"
        "| rule | level | location | message |\n"
        "|---|---|---|---|\n"
        f"| DAG005 dag-id-convention | error | {DAG}:7:12 | dag\\_id 'x' is wrong |\n"
        f"| STR006 missing-readme | warning | {DAG} | add a README.md |\n"
    )


def test_step_summary_of_a_clean_run() -> None:
    assert step_summary(Report([], 3)) == "## Validation\n\nNo problems in 3 files.\n"


def test_step_summary_counts_what_was_not_annotated() -> None:
    report = Report([_problem(line=n) for n in range(1, 14)], 1)
    summary = step_summary(report)
    assert summary.count("| DAG005 dag-id-convention | error |") == 13
    assert summary.endswith(
        "\n\n3 problems not shown as annotations: GitHub shows 10 errors and 10 warnings "
        "per step (those on changed lines first).\n")


def test_a_huge_step_summary_stays_under_githubs_limit() -> None:
    report = Report([_problem(line=n, message="x" * 5000) for n in range(1, 400)], 1)
    summary = step_summary(report)
    assert len(summary.encode("utf-8")) < 1024 * 1024
    assert "more problems not listed" in summary


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"
WRONG_ID = "environments/dev/dags/cases/wrong_dag_id.py"


def test_the_cli_appends_to_the_step_summary(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# An earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for _ in range(2):
        assert main(["--root", str(FIXTURE), "--format", "github",
                     str(FIXTURE / WRONG_ID)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"::error file={WRONG_ID},line=7,col=12,title=DAG005")
    written = summary.read_text()
    assert written.startswith("# An earlier step\n\n## Validation\n")
    location = WRONG_ID.replace("_", "\\_")  # Markdown-escaped
    assert written.count(f"| DAG005 dag-id-convention | error | {location}:7:12 |") == 2


def test_an_unwritable_step_summary_is_a_warning(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "such" / "dir.md"))
    assert main(["--root", str(FIXTURE), "--format", "github", str(FIXTURE / WRONG_ID)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("::error ")
    assert err.startswith("warning: cannot write the step summary")


def test_text_format_writes_no_step_summary(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    main(["--root", str(FIXTURE), "--format", "text", str(FIXTURE / WRONG_ID)])
    assert not summary.exists()


@needs_git
def test_the_cli_annotates_changed_lines_first(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    roles = tmp_path / "environments" / "dev" / "roles"
    roles.mkdir(parents=True)
    (roles / "airflow_dev_a.yml").write_text("a: 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "base")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    (roles / "airflow_dev_b.yml").write_text("b: 1\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "feature")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    assert main(["--root", str(tmp_path), "--format", "github", "--all"]) == 1
    first, second = capsys.readouterr().out.splitlines()[:2]
    assert first.startswith("::error file=environments/dev/roles/airflow_dev_b.yml,")
    assert second.startswith("::error file=environments/dev/roles/airflow_dev_a.yml,")
    monkeypatch.delenv("GITHUB_BASE_REF")
    main(["--root", str(tmp_path), "--format", "github", "--all"])
    assert "airflow_dev_a.yml" in capsys.readouterr().out.splitlines()[0]
