"""Inline suppressions (`# noqa: DAG006`, `# validation: disable=ROL009`, `disable-file`)
and STR009, on real files: DAG files imported with the real Airflow, role files built with
the real iam_builder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from validation.config import Config
from validation.facts import Suppression
from validation.loaders.suppressions import read_suppressions
from validation.run.runner import run

DAG = "environments/dev/dags/quiet/quiet_dag.py"
ROLE = "environments/dev/roles/airflow_dev_quiet.yaml"

# A clean DAG, but for a pod task_id with "." on line 13 (DAG006, error); {extra} lets a
# test put comments on known lines.
DAG_TEXT = """\
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

dag = DAG(
    dag_id="quiet.quiet_dag",{dag_id_comment}
    default_args={{"owner": "quiet"}},
    start_date=datetime(2022, 1, 1),
    schedule_interval=None,
)
BasicKubernetesPodOperator(
    dag=dag, task_id="pod.task",{task_comment}
    repo_name="quiet", release="v1.0.0",
    role="airflow_dev_quiet",
)
"""


def make_repo(root: Path, dag: str | None = None, role: str = "s3:\n  read_only:\n    - "
              "alpha-quiet/*\n") -> Path:
    files = {
        "environments/dev/dags/quiet/README.md": "# quiet\n",
        ROLE: role,
        DAG: dag if dag is not None else dag_text(),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def dag_text(dag_id_comment: str = "", task_comment: str = "") -> str:
    return DAG_TEXT.format(dag_id_comment=dag_id_comment, task_comment=task_comment)


def found(root: Path, path: str, config: Config = Config(dag_timeout=10)
          ) -> list[tuple[str, int, int, str]]:
    report = run(root, [path], everything=False, config=config, cwd=root)
    return [(p.rule, p.line, p.column, p.level.value) for p in report.problems]


# -- reading the comments -------------------------------------------------------------------


def test_directives_are_read_from_python_comments_only(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text('x = "# noqa: DAG005"  # noqa: E501, DAG006,dag007\n'
                    "# validation: disable-file=ROL016\n"
                    "y = 1  # noqa\n")
    assert read_suppressions(str(path)) == [
        Suppression(1, 23, ("DAG006", "DAG007"), False, "# noqa: DAG006, DAG007"),
        Suppression(2, 1, ("ROL016",), True, "# validation: disable-file=ROL016"),
    ]


def test_directives_are_read_from_yaml_comments(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("secrets: banana  # validation: disable=ROL009\n"
                    "s3: {read_only: ['a#b']}\n"
                    "# validation: disable\n")
    assert read_suppressions(str(path)) == [
        Suppression(1, 18, ("ROL009",), False, "# validation: disable=ROL009"),
        Suppression(3, 1, (), False, "# validation: disable"),
    ]


def test_an_unreadable_file_has_no_suppressions(tmp_path: Path) -> None:
    assert read_suppressions(str(tmp_path / "missing.py")) == []
    (tmp_path / "bad.py").write_bytes(b"\xff\xfe # noqa: DAG006\n")
    assert read_suppressions(str(tmp_path / "bad.py"))[0].codes == ("DAG006",)


# -- DAG files --------------------------------------------------------------------------------


def test_without_a_suppression_the_problem_is_reported(tmp_path: Path) -> None:
    make_repo(tmp_path)
    assert found(tmp_path, DAG) == [("DAG006", 13, 22, "error")]


def test_noqa_silences_the_rule_it_names_on_its_line(tmp_path: Path) -> None:
    make_repo(tmp_path, dag_text(task_comment="  # noqa: E501, DAG006"))
    assert found(tmp_path, DAG) == []


def test_noqa_does_not_silence_other_rules_or_other_lines(tmp_path: Path) -> None:
    make_repo(tmp_path, dag_text(dag_id_comment="  # noqa: DAG006",
                                 task_comment="  # noqa: DAG005"))
    assert found(tmp_path, DAG) == [
        ("STR009", 7, 32, "warning"),  # nothing for DAG006 on the dag_id line
        ("DAG006", 13, 22, "error"),
        ("STR009", 13, 35, "warning"),  # nothing for DAG005 on the task line
    ]


def test_a_bare_noqa_silences_nothing(tmp_path: Path) -> None:
    make_repo(tmp_path, dag_text(task_comment="  # noqa"))
    assert found(tmp_path, DAG) == [("DAG006", 13, 22, "error")]


def test_disable_file_silences_the_rule_everywhere_in_the_file(tmp_path: Path) -> None:
    make_repo(tmp_path, "# validation: disable-file=DAG006\n" + dag_text())
    assert found(tmp_path, DAG) == []


def test_an_unused_suppression_says_what_to_remove(tmp_path: Path) -> None:
    make_repo(tmp_path, dag_text(dag_id_comment="  # noqa: DAG005",
                                 task_comment="  # noqa: DAG006"))
    report = run(tmp_path, [DAG], everything=False, config=Config(dag_timeout=10), cwd=tmp_path)
    [problem] = report.problems
    assert (problem.rule, problem.line) == ("STR009", 7)
    assert problem.message == ("'# noqa: DAG005': DAG005 reports nothing on this line, so the "
                               "suppression is not needed: remove DAG005 from it")


def test_a_suppression_is_not_unused_when_the_file_does_not_import(tmp_path: Path) -> None:
    make_repo(tmp_path, dag_text(task_comment="  # noqa: DAG006") + "raise ValueError('x')\n")
    assert found(tmp_path, DAG) == [("DAG001", 17, 1, "error")]


def test_a_suppression_of_a_rule_that_did_not_run_is_not_unused(tmp_path: Path) -> None:
    make_repo(tmp_path, dag_text(dag_id_comment="  # noqa: DAG005"))
    config = Config(dag_timeout=10, ignore=("DAG005", "DAG006"))
    assert found(tmp_path, DAG, config) == []


def test_str009_can_be_ignored_but_not_suppressed(tmp_path: Path) -> None:
    make_repo(tmp_path, "# validation: disable-file=STR009\n"
              + dag_text(dag_id_comment="  # noqa: DAG005"))
    report = run(tmp_path, [DAG], everything=False, config=Config(dag_timeout=10), cwd=tmp_path)
    assert [(p.rule, p.line) for p in report.problems] == [
        ("STR009", 1), ("STR009", 8), ("DAG006", 14)]
    assert "STR009 cannot be suppressed inline" in report.problems[0].message
    assert found(tmp_path, DAG, Config(dag_timeout=10, ignore=("STR009", "DAG006"))) == []


# -- role files -------------------------------------------------------------------------------


def test_disable_silences_a_role_rule_on_its_line(tmp_path: Path) -> None:
    make_repo(tmp_path, role="iam_role_name: airflow_dev_quiet\nsecrets: banana\n")
    assert found(tmp_path, ROLE) == [("ROL009", 2, 10, "error")]
    make_repo(tmp_path, role="iam_role_name: airflow_dev_quiet\n"
              "secrets: banana  # validation: disable=ROL009\n")
    assert found(tmp_path, ROLE) == []


def test_disable_file_in_a_role_file(tmp_path: Path) -> None:
    make_repo(tmp_path, role="# validation: disable-file=ROL007\niam_role_name: airflow_dev_x\n"
              "s3:\n  read_only:\n    - alpha-quiet/*\n")
    assert found(tmp_path, ROLE) == []


@pytest.mark.parametrize(("comment", "message"), [
    ("# validation: disable=ROL099", "names ROL099, which is not a rule"),
    ("# validation: disable", "names no rule"),
    ("# validation: disable=ROL009", "ROL009 reports nothing on this line"),
])
def test_a_suppression_that_cannot_work_is_reported(tmp_path: Path, comment: str,
                                                    message: str) -> None:
    make_repo(tmp_path, role=textwrap.dedent(f"""\
        s3:
          read_only:  {comment}
            - alpha-quiet/*
        """))
    report = run(tmp_path, [ROLE], everything=False, config=Config(), cwd=tmp_path)
    [problem] = report.problems
    assert (problem.rule, problem.line, problem.column, problem.level.value) == (
        "STR009", 2, 15, "warning")
    assert message in problem.message
