"""--fix and --diff on real files: each fix before and after, its exact diff, the fixed file
validated again with the real Airflow and iam_builder, the user guide's example, and the
cases where nothing may be written (a file changed since it was read, a symlink)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from validation.cache.codec import decode, encode
from validation.cli import main
from validation.config import load_config
from validation.fix import plan, write
from validation.problems import Edit, Fix, Level, Problem
from validation.run.runner import run

GUIDE = Path(__file__).resolve().parent / "fixtures" / "guide"
GUIDE_DAG = "environments/dev/dags/alice/copy_file_s3.py"
GUIDE_ROLE = "environments/dev/roles/airflow_dev_alice_example.yaml"
GUIDE_README = "environments/dev/dags/alice/README.md"


def _repo(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def _cli(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--root", str(root), "--dag-timeout", "20", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _rules(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> list[str]:
    """The rules of the problems a plain run reports now (json)."""
    _, out, _ = _cli(capsys, root, "--format", "json", *argv)
    return [problem["rule"] for problem in json.loads(out)["problems"]]


def _texts(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_text() for path in sorted(root.rglob("*"))
            if path.is_file()}


# -- the user guide's example, pasted as the guide says --------------------------------


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    shutil.copytree(GUIDE, tmp_path / "repo")
    return tmp_path / "repo"


GUIDE_DIFF = (
    f"--- /dev/null\n+++ b/{GUIDE_README}\n@@ -0,0 +1 @@\n+# alice\n"
    f"--- a/{GUIDE_DAG}\n+++ b/{GUIDE_DAG}\n@@ -27,7 +27,7 @@\n"
    " dag = DAG(\n     # Name of the dag (how it will appear on the Airflow UI)\n"
    "     # We use the naming convention: <folder_name>.<filename>\n"
    '-    dag_id=f"{username}.write_to_s3",\n+    dag_id="alice.copy_file_s3",\n'
    '     default_args=default_args,\n     description="A basic Kubernetes DAG",\n'
    "     # Requires a start_date as a datetime object. This will be when the\n"
    "@@ -46,7 +46,7 @@\n"
    '     "RUN": "write",\n     "TEXT": "Hello",\n'
    '     "OUTPATH": f"s3://alpha-everyone/airflow-example/{username}/test.txt",\n'
    "-},\n+}\n  \n" + ' """\n'
    " It is good practice to set task_id as a variable above your task\n"
    f"--- a/{GUIDE_ROLE}\n+++ b/{GUIDE_ROLE}\n@@ -1,4 +1,4 @@\n"
    "-iam_role_name: airflow_dev_{username}_example\n"
    "+iam_role_name: airflow_dev_alice_example\n  \n s3:\n   read_write:\n"
)


def test_the_guide_example_is_marked_fixable(capsys: pytest.CaptureFixture[str],
                                             guide: Path) -> None:
    code, out, _ = _cli(capsys, guide, "--all")
    fixable = {line.split()[1] for line in out.splitlines() if " [*] " in line.split(":", 3)[-1]
               and line.startswith("environments/")}
    # DAG005 is read from the source beside DAG001: one run shows both, and mends both.
    assert fixable == {"STR006", "DAG001", "DAG005", "ROL007"}
    assert out.endswith("[*] 4 fixable with --fix (--diff shows the changes).\n")
    assert code == 1


def test_diff_shows_the_fixes_and_changes_nothing(capsys: pytest.CaptureFixture[str],
                                                  guide: Path) -> None:
    before = _texts(guide)
    code, out, err = _cli(capsys, guide, "--all", "--diff")
    assert out == GUIDE_DIFF
    assert err == "Would fix 4 problems in 3 files.\n"
    assert code == 1
    assert _texts(guide) == before


def test_one_fix_leaves_the_guide_example_clean(capsys: pytest.CaptureFixture[str],
                                                guide: Path) -> None:
    dag_before = (guide / GUIDE_DAG).read_text()
    role_before = (guide / GUIDE_ROLE).read_text()
    code, out, err = _cli(capsys, guide, "--all", "--fix")
    assert err == "Fixed 4 problems in 3 files (DAG001 x1, DAG005 x1, ROL007 x1, STR006 x1).\n"
    # Nothing is left: ROL016 reads the f-string role name and knows the DAG uses the role.
    assert [line.split()[1] for line in out.splitlines()[:-1]] == []
    assert code == 0
    assert (guide / GUIDE_DAG).read_text() == dag_before.replace(
        '    dag_id=f"{username}.write_to_s3",', '    dag_id="alice.copy_file_s3",').replace(
        '    "OUTPATH": f"s3://alpha-everyone/airflow-example/{username}/test.txt",\n},',
        '    "OUTPATH": f"s3://alpha-everyone/airflow-example/{username}/test.txt",\n}')
    assert (guide / GUIDE_ROLE).read_text() == role_before.replace(
        "airflow_dev_{username}_example", "airflow_dev_alice_example")
    assert (guide / GUIDE_README).read_text() == "# alice\n"

    after = _texts(guide)
    code, out, err = _cli(capsys, guide, "--all", "--fix")  # a second --fix changes nothing
    assert (code, err) == (0, "")
    assert _texts(guide) == after
    assert _cli(capsys, guide, "--all", "--diff")[1:] == ("", "No fixes available.\n")


def test_the_fixes_go_into_json_and_sarif(capsys: pytest.CaptureFixture[str],
                                          guide: Path) -> None:
    # A role no DAG uses: ROL016, which has no single mend (delete it, or use it?).
    unused = guide / "environments/dev/roles/airflow_dev_alice_spare.yaml"
    unused.write_text("iam_role_name: airflow_dev_alice_spare\ns3:\n  read_only:\n"
                      "    - alpha-everyone/*\n")
    _, out, _ = _cli(capsys, guide, "--all", "--format", "json")
    fixes = {problem["rule"]: problem["fix"] for problem in json.loads(out)["problems"]}
    assert fixes["ROL016"] is None
    assert fixes["ROL007"] == {
        "description": "set iam_role_name to `airflow_dev_alice_example`",
        "edits": [{"path": GUIDE_ROLE, "line": 1, "column": 16, "end_line": 1,
                   "end_column": 46, "replacement": "airflow_dev_alice_example",
                   "create": False}]}
    _, out, _ = _cli(capsys, guide, "--all", "--format", "sarif")
    results = {result["ruleId"]: result for result in json.loads(out)["runs"][0]["results"]}
    assert "fixes" not in results["ROL016"]
    assert results["STR006"]["fixes"] == [{
        "description": {"text": f"create {GUIDE_README}"},
        "artifactChanges": [{
            "artifactLocation": {"uri": GUIDE_README, "uriBaseId": "%SRCROOT%"},
            "replacements": [{"deletedRegion": {"charOffset": 0, "charLength": 0},
                              "insertedContent": {"text": "# alice\n"}}]}]}]
    from tests.test_sarif import validate

    validate(json.loads(out))


# -- one rule at a time -----------------------------------------------------------------

DAG_HEAD = """\
from datetime import datetime

from airflow.models import DAG
from airflow.operators.empty import EmptyOperator
"""


def test_dag005_through_a_variable_keeps_quotes_and_comments(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = "environments/dev/dags/proj/report.py"
    _repo(tmp_path, {path: DAG_HEAD + (
        "\nDAG_ID = 'proj_report'  # shown in the UI\n\n"
        "dag = DAG(dag_id=DAG_ID, default_args={'owner': 'proj'},\n"
        "          start_date=datetime(2022, 1, 1), schedule_interval=None)\n"
        "EmptyOperator(task_id='start', dag=dag)\n")})
    code, out, _ = _cli(capsys, tmp_path, str(tmp_path / path), "--select", "DAG005", "--diff")
    assert out == (
        f"--- a/{path}\n+++ b/{path}\n@@ -3,7 +3,7 @@\n"
        " from airflow.models import DAG\n"
        " from airflow.operators.empty import EmptyOperator\n \n"
        "-DAG_ID = 'proj_report'  # shown in the UI\n"
        "+DAG_ID = 'proj.report'  # shown in the UI\n \n"
        " dag = DAG(dag_id=DAG_ID, default_args={'owner': 'proj'},\n"
        "           start_date=datetime(2022, 1, 1), schedule_interval=None)\n")
    assert code == 1
    assert _cli(capsys, tmp_path, str(tmp_path / path), "--select", "DAG005", "--fix")[0] == 0
    # DAG005 is gone, and so is every other problem but the missing README
    assert _rules(capsys, tmp_path, str(tmp_path / path)) == ["STR006"]


def test_dag005_has_no_fix_for_a_computed_dag_id(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    path = "environments/dev/dags/proj/report.py"
    _repo(tmp_path, {path: DAG_HEAD + (
        "\ndag = DAG(dag_id='proj_' + 'report', default_args={'owner': 'proj'},\n"
        "          start_date=datetime(2022, 1, 1), schedule_interval=None)\n")})
    code, out, err = _cli(capsys, tmp_path, str(tmp_path / path), "--select", "DAG005", "--diff")
    assert (code, out, err) == (0, "", "No fixes available.\n")


TASKS = DAG_HEAD + """
TASK = 'load_data'  # the loading step

dag = DAG(dag_id="proj.tasks", default_args={"owner": "proj"},
          start_date=datetime(2022, 1, 1), schedule_interval=None)
EmptyOperator(task_id=TASK, dag=dag)
EmptyOperator(task_id="copy.it", dag=dag)
EmptyOperator(task_id="make-it", dag=dag)
EmptyOperator(task_id="make_it", dag=dag)
"""


def test_dag006_fixes_a_literal_and_a_variable_but_never_makes_a_duplicate(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = "environments/dev/dags/proj/tasks.py"
    _repo(tmp_path, {path: TASKS, "environments/dev/dags/proj/README.md": "# proj\n"})
    _, out, _ = _cli(capsys, tmp_path, str(tmp_path / path), "--select", "DAG006")
    assert [line.split(": ", 1)[1][:14] for line in out.splitlines()[:3]] == [
        "DAG006 [*] [ta", "DAG006 [*] [ta", "DAG006 [task-i"]  # make_it: make-it exists
    code, _, err = _cli(capsys, tmp_path, str(tmp_path / path), "--select", "DAG006", "--fix")
    assert err == "Fixed 2 problems in 1 file (DAG006 x2).\n"
    assert code == 0  # warnings only: EmptyOperator is no pod
    assert (tmp_path / path).read_text() == TASKS.replace(
        "TASK = 'load_data'", "TASK = 'load-data'").replace('"copy.it"', '"copy-it"')
    assert _rules(capsys, tmp_path, str(tmp_path / path)) == ["DAG006"]  # make_it: its author's


def test_rol003_renames_a_misspelt_key_in_its_own_quotes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    before = ("iam_role_name: airflow_dev_proj\ns3:\n  # where the reports go\n"
              "  \"read_wirte\":   # sic\n    - alpha-proj/reports/*\n")
    _repo(tmp_path, {path: before})
    code, out, _ = _cli(capsys, tmp_path, str(tmp_path / path), "--select", "ROL003", "--diff")
    assert out == (f"--- a/{path}\n+++ b/{path}\n@@ -1,5 +1,5 @@\n"
                   " iam_role_name: airflow_dev_proj\n s3:\n   # where the reports go\n"
                   "-  \"read_wirte\":   # sic\n+  \"read_write\":   # sic\n"
                   "     - alpha-proj/reports/*\n")
    assert code == 1
    _cli(capsys, tmp_path, str(tmp_path / path), "--fix")
    assert (tmp_path / path).read_text() == before.replace("read_wirte", "read_write")
    assert _rules(capsys, tmp_path, str(tmp_path / path)) == ["ROL016"]  # iam_builder builds it now


@pytest.mark.parametrize("key", ["read_onyl", "read_only_"])
def test_rol003_has_no_fix_when_the_key_is_not_one_close_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, key: str) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    # read_onyl is as close to write_only as to read_only; read_only_ beside read_only
    # would become a duplicate key.
    _repo(tmp_path, {path: f"s3:\n  read_only:\n    - a-b/c/*\n  {key}:\n    - a-b/d/*\n"})
    assert _cli(capsys, tmp_path, str(tmp_path / path), "--select", "ROL003", "--diff")[0] == 0


def test_rol007_keeps_the_quotes_and_the_mode(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    # airflow_dev_Proj is no valid role name, so no DAG can use it: the file's name wins.
    _repo(tmp_path, {path: "iam_role_name: 'airflow_dev_Proj'  # typo\ns3:\n  read_only:\n"
                           "    - alpha-proj/*\n"})
    os.chmod(tmp_path / path, 0o640)
    _cli(capsys, tmp_path, str(tmp_path / path), "--fix")
    assert (tmp_path / path).read_text() == ("iam_role_name: 'airflow_dev_proj'  # typo\ns3:\n"
                                             "  read_only:\n    - alpha-proj/*\n")
    assert stat.S_IMODE((tmp_path / path).stat().st_mode) == 0o640
    assert _rules(capsys, tmp_path, str(tmp_path / path)) == ["ROL016"]


def test_rol007_sets_the_name_the_dags_use(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "iam_role_name: airflow_dev_other\ns3:\n  read_only:\n"
                           "    - alpha-proj/*\n",
                     "environments/dev/dags/proj/report.py":
                         'ROLE = "airflow_dev_proj"\n'
                         'BasicKubernetesPodOperator(task_id="t", role=ROLE)\n'})
    _cli(capsys, tmp_path, str(tmp_path / path), "--select", "ROL007", "--fix")
    assert (tmp_path / path).read_text().startswith("iam_role_name: airflow_dev_proj\n")


def test_rol007_leaves_the_choice_when_dags_may_use_the_other_name(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Both names are valid and no DAG uses the file's: the mend may be renaming the file.
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "iam_role_name: airflow_dev_other\ns3:\n  read_only:\n"
                           "    - alpha-proj/*\n"})
    assert _cli(capsys, tmp_path, str(tmp_path / path), "--select", "ROL007", "--diff")[0] == 0


# -- what is never written -------------------------------------------------------------


def _report(root: Path, path: str) -> list[Problem]:
    return run(root, [str(root / path)], everything=False, config=load_config(root),
               cwd=root).problems


def test_a_file_changed_since_it_was_read_is_left_alone(tmp_path: Path) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "iam_role_name: airflow_dev_Pro\n"})
    problems = _report(tmp_path, path)
    assert any(problem.fix for problem in problems)
    (tmp_path / path).write_text("iam_role_name: airflow_dev_Pro  # edited meanwhile\n")
    done = write(tmp_path, plan(tmp_path, problems))
    assert (done.texts, done.fixed) == ({}, [])
    assert done.refused == {path: "it changed since it was read"}
    assert (tmp_path / path).read_text() == "iam_role_name: airflow_dev_Pro  # edited meanwhile\n"


def test_a_file_changed_between_plan_and_write_is_left_alone(tmp_path: Path) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "iam_role_name: airflow_dev_Pro\n"})
    planned = plan(tmp_path, _report(tmp_path, path))
    assert planned.texts
    (tmp_path / path).write_text("s3: {}\n")
    done = write(tmp_path, planned)
    assert done.refused == {path: "it changed since it was read"} and done.fixed == []
    assert (tmp_path / path).read_text() == "s3: {}\n"


def test_a_symlink_is_never_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "outside.yaml"
    target.write_text("iam_role_name: airflow_dev_Pro\n")
    link = "environments/dev/roles/airflow_dev_proj.yaml"
    (tmp_path / link).parent.mkdir(parents=True)
    os.symlink(target, tmp_path / link)
    code, _, err = _cli(capsys, tmp_path, str(tmp_path / link), "--fix")
    assert err == f"{link}: not fixed: it is a symlink\n"
    assert code == 1
    assert target.read_text() == "iam_role_name: airflow_dev_Pro\n"


def test_a_readme_is_created_only_where_nothing_is(tmp_path: Path) -> None:
    edit = Edit("environments/dev/dags/proj/README.md", 0, 0, 0, 0, "# proj\n", "", True)
    problem = Problem("environments/dev/dags/proj/a.py", 0, 0, "STR006", "missing-readme",
                      Level.WARNING, "no README", Fix("create it", (edit,)))
    (tmp_path / "environments/dev/dags/proj").mkdir(parents=True)
    (tmp_path / edit.path).write_text("mine\n")
    assert plan(tmp_path, [problem]).refused == {edit.path: "it exists now"}
    (tmp_path / edit.path).unlink()
    (tmp_path / edit.path).symlink_to(tmp_path / "elsewhere.md")  # dangling: never followed
    assert plan(tmp_path, [problem]).refused == {edit.path: "it is a symlink"}
    (tmp_path / edit.path).unlink()
    done = write(tmp_path, plan(tmp_path, [problem]))
    assert (tmp_path / edit.path).read_text() == "# proj\n"
    assert not (tmp_path / "elsewhere.md").exists() and done.fixed == [problem]


def test_overlapping_fixes_wait_for_the_next_round(tmp_path: Path) -> None:
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "abcdef\n"})
    from validation.loaders.files import text_digest

    digest = text_digest("abcdef\n")

    def fix(start: int, end: int, text: str) -> Fix:
        return Fix(text, (Edit(path, 1, start, 1, end, text, digest),))

    problems = [Problem(path, 1, n, "ROL003", "x", Level.ERROR, "m", f)
                for n, f in enumerate([fix(5, 7, "EF"), fix(2, 4, "BC"), fix(3, 6, "XX")])]
    done = write(tmp_path, plan(tmp_path, problems))
    assert (tmp_path / path).read_text() == "aBCdEF\n"  # the third overlaps both: later
    assert (done.waiting, len(done.fixed)) == (1, 2)


def test_a_problem_with_a_fix_round_trips_through_the_cache_codec() -> None:
    edit = Edit("environments/dev/roles/airflow_dev_x.yaml", 1, 16, 1, 30, "airflow_dev_x", "ab")
    create = Edit("environments/dev/dags/x/README.md", 0, 0, 0, 0, "# x\n", "", True)
    problem = Problem("p", 1, 16, "ROL007", "iam-role-name-mismatch", Level.ERROR, "m",
                      Fix("set it", (edit, create)))
    data: Any = encode(problem, Problem)
    json.dumps(data)
    again = decode(json.loads(json.dumps(data)), Problem)
    assert again == problem and again.fix == problem.fix
    assert decode(encode(Problem("p", 0, 0, "R", "r", Level.ERROR, "m"), Problem), Problem).fix \
        is None


# -- the positions the loaders record for fixes ------------------------------------------


def test_literal_spans_count_characters_and_follow_a_variable_read_once() -> None:
    from validation.facts import LiteralSite, Span
    from validation.loaders.source import source_facts

    source = source_facts('NAME = "a_b"\nOTHER = "x"\nP = 1\n'
                          'f(owner="é", task_id=NAME, dag_id=OTHER)\n'
                          'g(dag_id=OTHER, name=f"{P}é", c="é" + "z")\n')
    first, second = source.calls
    assert first.literals == {
        "owner": LiteralSite(Span(4, 9, 4, 12), '"', None, False, "é"),
        "task_id": LiteralSite(Span(1, 8, 1, 13), '"', "NAME", False, "a_b")}
    assert second.literals == {"name": LiteralSite(Span(5, 22, 5, 29), '"', None, True)}
    # OTHER is read twice: changing it would change both calls; c is no single literal


def test_role_spans_leave_out_what_an_alias_or_a_merge_brings_in(tmp_path: Path) -> None:
    from validation.facts import Span
    from validation.loaders.roles import load_role

    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "base: &b\n  read_wirte: [x]\ns3:\n  <<: *b\n  'wirte': *b\n"})
    role = load_role(tmp_path, path, "dev", "airflow_dev_proj")
    assert role.scalar_spans["/s3/wirte#key"] == Span(5, 3, 5, 10)
    assert role.scalar_quotes == {"/s3/wirte#key": "'"}
    assert "/base/read_wirte#key" not in role.scalar_spans  # also the merged s3 key
    assert "/s3/read_wirte#key" not in role.scalar_spans
    assert "/s3/wirte/read_wirte#key" not in role.scalar_spans


def test_a_folder_that_cannot_be_written_is_reported_not_a_crash(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    path = "environments/dev/roles/airflow_dev_proj.yaml"
    _repo(tmp_path, {path: "iam_role_name: airflow_dev_Proj\n"})
    os.chmod(tmp_path / path, 0o444)
    os.chmod((tmp_path / path).parent, 0o555)
    try:
        code, _, err = _cli(capsys, tmp_path, str(tmp_path / path), "--fix")
    finally:
        os.chmod((tmp_path / path).parent, 0o755)
    assert err.startswith(f"{path}: not fixed: cannot write it: [Errno 13] Permission denied")
    assert code == 1
    assert (tmp_path / path).read_text() == "iam_role_name: airflow_dev_Proj\n"
