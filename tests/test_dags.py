"""DAG rules and the DAG loader, with the real Airflow 2.4.3 and mojap-airflow-tools.

The fixture repository tests/fixtures/dagrepo has one file per mistake, each marking the
line it expects to be flagged (see expectations.py), a project of files that hang, exit
or kill their process, and a clean project.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from expectations import expected_problems

from validation.config import Config
from validation.facts import LoadSettings
from validation.loaders.dag.dags import DagFileRequest, load_python_files
from validation.problems import Problem, Report
from validation.run.runner import run

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"


@pytest.fixture(scope="module")
def report() -> Report:
    return run(FIXTURE, [], everything=True, config=Config(dag_timeout=2.0), cwd=FIXTURE)


def _by_path(report: Report, path: str) -> list[Problem]:
    return [problem for problem in report.problems if problem.path == path]


def test_every_marked_line_is_flagged_and_nothing_else(report: Report) -> None:
    actual = {(p.path, p.line, p.rule, p.level.value) for p in report.problems}
    assert actual == expected_problems(FIXTURE)


@pytest.mark.parametrize("path", sorted(
    path.relative_to(FIXTURE).as_posix()
    for path in FIXTURE.glob("environments/*/dags/*/*.py")
))
def test_each_fixture_file_is_validated_alone_as_in_the_full_run(report: Report, path: str) -> None:
    alone = run(FIXTURE, [path], everything=False, config=Config(dag_timeout=2.0), cwd=FIXTURE)
    assert alone.problems == _by_path(report, path)


def test_a_clean_dag_yields_nothing(report: Report) -> None:
    assert _by_path(report, "environments/dev/dags/clean/clean_dag.py") == []


def test_a_dag_using_boto3_and_the_amazon_provider_yields_nothing(report: Report) -> None:
    """MWAA's Airflow 2.4.3 has the amazon provider and boto3 (README, "What the
    validator's Airflow has"): a DAG importing them is no DAG001."""
    assert _by_path(report, "environments/dev/dags/clean/uses_aws.py") == []


def test_dag_id_problem_points_at_the_literal(report: Report) -> None:
    [problem] = _by_path(report, "environments/dev/dags/cases/wrong_dag_id.py")
    assert (problem.rule, problem.line, problem.column) == ("DAG005", 7, 12)
    assert "should be 'cases.wrong_dag_id'" in problem.message


def test_task_id_level_depends_on_the_operator(report: Report) -> None:
    problems = _by_path(report, "environments/dev/dags/cases/task_id_chars.py")
    assert [(p.line, p.level.value) for p in problems] == [(28, "error"), (30, "warning")]
    assert "use 'pod-task'" in problems[0].message


def test_tasks_made_in_a_loop_report_their_role_once(report: Report) -> None:
    [problem] = _by_path(report, "environments/dev/dags/cases/role_missing.py")
    assert "did you mean 'airflow_dev_cases'?" in problem.message


def test_import_error_names_the_exception_and_line(report: Report) -> None:
    [problem] = _by_path(report, "environments/dev/dags/cases/raises.py")
    assert (problem.line, problem.column, problem.message) == (6, 1, "ValueError: boom")


def test_crashes_are_blamed_on_their_file(report: Report) -> None:
    messages = {p.path.rsplit("/", 1)[1]: p.message for p in report.problems if p.rule == "DAG002"}
    assert "killed by SIGKILL" in messages["kills_itself.py"]
    assert "exited with status 3" in messages["os_exit.py"]
    assert "sys.exit(0)" in messages["exits.py"]
    assert "did not finish within 2 s" in messages["hangs.py"]
    assert "did not finish within 2 s" in messages["hangs_ignoring_alarm.py"]


def test_no_bytecode_is_left_in_the_repository(report: Report) -> None:
    assert list(FIXTURE.rglob("__pycache__")) == []


def test_the_example_repository_is_clean() -> None:
    examples = run(REPO, [], everything=True, config=Config(), cwd=REPO)
    assert examples.problems == []
    assert examples.files > 10


def test_the_loader_describes_dags_and_tasks_as_plain_facts() -> None:
    path = "environments/dev/dags/clean/clean_dag.py"
    dags, _ = load_python_files(str(FIXTURE), [DagFileRequest(path, "dev", "clean", "clean_dag")],
                                [], LoadSettings(timeout=10))
    facts = dags[path]
    assert (facts.import_error, facts.crash) == (None, None)
    [dag] = facts.dags
    assert (dag.dag_id, dag.registered) == ("clean.clean_dag", True)
    assert (dag.line, dag.dag_id_line) == (6, 7)
    assert (dag.start_date, dag.schedule_kind, dag.owner) == (
        "2022-01-01T00:00:00+00:00", "none", "cases")
    [task] = dag.tasks
    assert (task.task_id, task.operator, task.is_pod, task.line) == (
        "task-1", "KubernetesPodOperator", True, 12)
    assert (task.role, task.role_source, task.role_line) == ("airflow_dev_clean", "annotation", 16)
    assert task.pod["namespace"] == "airflow"
    assert task.pod["image"] == "189157455002.dkr.ecr.eu-west-1.amazonaws.com/cases:v1.0.0"
    assert task.pod["security_context"] == {
        "allowPrivilegeEscalation": False, "runAsNonRoot": True, "privileged": False}


def test_common_mistakes_get_a_hint(report: Report) -> None:
    [preset] = _by_path(report, "environments/dev/dags/cases/preset_with_spaces.py")
    assert "did you mean '@daily'? (a preset has no spaces or capitals)" in preset.message
    [comma] = _by_path(report, "environments/dev/dags/cases/trailing_comma.py")
    assert comma.message == ("TypeError: default_args must be a dict; the trailing comma at "
                             "line 6 makes default_args a tuple, not a dict: remove it")
