"""DAG rules and the DAG loader, with the real Airflow 2.4.3 and mojap-airflow-tools.

The fixture repository tests/fixtures/dagrepo has one file per mistake, each marking the
line it expects to be flagged (see expectations.py), a project of files that hang, exit
or kill their process, and a clean project.
"""

from __future__ import annotations

import sys
import types
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
    assert [(p.line, p.level.value) for p in problems] == [
        (29, "warning"), (35, "error"), (47, "error"), (49, "warning")]
    assert problems[0].message == (
        "task_id 'pod_task' may only use letters, digits and '-' (the pod is named by name=, "
        "not by the task_id): use 'pod-task'")
    assert problems[1].message.startswith(
        "name= gives task 'raw-pod' the pod name '-raw-pod-<random suffix>', which Kubernetes "
        "refuses")
    assert problems[2].message.startswith(
        "task_id 'task.2' names the pod (BasicKubernetesPodOperator): use only lowercase")


def test_a_task_id_mojap_refuses_is_dag006_at_the_literal_not_dag001(report: Report) -> None:
    [problem] = _by_path(report, "environments/dev/dags/cases/mojap_rejects_task_id.py")
    assert (problem.rule, problem.line, problem.column) == ("DAG006", 17, 13)
    assert problem.message == (
        "task_id 'task_1' names the pod (BasicKubernetesPodOperator): use only lowercase "
        "letters, digits and '-', starting with a letter or digit (mojap-airflow-tools "
        "refuses '_', spaces and capitals, the user guide '.'): use 'task-1'")


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


def _only(report: Report, name: str) -> Problem:
    [problem] = _by_path(report, f"environments/dev/dags/cases/{name}.py")
    return problem


def test_the_guides_username_without_quotes_gets_a_hint(report: Report) -> None:
    problem = _only(report, "username_unquoted")
    assert (problem.rule, problem.line) == ("DAG001", 6)
    assert problem.message == (
        "NameError: name 'alice' is not defined; if alice is a value, quote it: "
        "username = \"alice\" (the user guide's <<username>> stands for a string)")


def test_a_variable_read_at_parse_time_gets_a_hint_to_read_it_at_run_time(
        report: Report) -> None:
    problem = _only(report, "variable_at_parse_time")
    assert (problem.rule, problem.line) == ("DAG001", 5)
    assert problem.message.startswith("KeyError: 'Variable cases_bucket does not exist'; no "
                                      "Variables exist while validating")
    assert '"{{ var.value.cases_bucket }}" in a templated field' in problem.message


def test_a_relative_open_gets_a_hint_to_build_the_path_from_the_file(report: Report) -> None:
    problem = _only(report, "relative_open")
    assert (problem.rule, problem.line) == ("DAG001", 5)
    assert problem.message.endswith(
        "'sql/query.sql' is relative to the working directory, which is not the DAG's folder "
        "(here or on the platform): build the path from the file's own, "
        "os.path.join(os.path.dirname(__file__), \"sql/query.sql\")")


def test_a_package_the_platform_lacks_gets_a_hint_that_it_belongs_in_the_image(
        report: Report) -> None:
    problem = _only(report, "missing_package")
    assert (problem.rule, problem.line) == ("DAG001", 3)
    assert problem.message.startswith("ModuleNotFoundError: No module named 'sklearn'; "
                                      "'sklearn' is not installed on the platform's Airflow")
    assert "belongs in the task's image" in problem.message


def test_a_dag_reading_a_pool_at_parse_time_yields_nothing(report: Report) -> None:
    """The metadata database has the platform's tables (and its default pool)."""
    assert _by_path(report, "environments/dev/dags/clean/reads_pool.py") == []


def test_common_mistakes_get_a_hint(report: Report) -> None:
    [preset] = _by_path(report, "environments/dev/dags/cases/preset_with_spaces.py")
    assert "did you mean '@daily'? (a preset has no spaces or capitals)" in preset.message
    [comma] = _by_path(report, "environments/dev/dags/cases/trailing_comma.py")
    assert comma.message == ("TypeError: default_args must be a dict; the trailing comma at "
                             "line 6 makes default_args a tuple, not a dict: remove it")


def test_the_modules_an_import_added_are_those_after_the_mark() -> None:
    """worker._imported() walks sys.modules back to the mark run() put in; without the
    mark (a file took it out) it still finds them, by comparing the whole of sys.modules."""
    from validation.loaders.dag import worker

    sys.modules[worker.MARK] = worker._MARKER
    added = ["validation_test_added_one", "validation_test_added_two"]
    try:
        for name in added:
            sys.modules[name] = types.ModuleType(name)
        assert worker._imported() == set(added)
        del sys.modules[worker.MARK]
        assert set(added) <= worker._imported()
    finally:
        for name in [worker.MARK, *added]:
            sys.modules.pop(name, None)


def test_the_largest_files_are_imported_first(tmp_path: Path) -> None:
    """So that a run does not end on one long import while the other cores wait; ties
    go by path, and a file gone meanwhile comes last (its child says it is gone)."""
    from validation.loaders.dag.supervisor import largest_first

    sizes = {"a.py": 10, "b.py": 300, "c.py": 10, "d.py": 2000}
    for name, size in sizes.items():
        (tmp_path / name).write_text("#" * size)
    files = {name: str(tmp_path / name) for name in [*sizes, "gone.py"]}
    assert largest_first(files) == ["d.py", "b.py", "a.py", "c.py", "gone.py"]


def test_files_are_imported_while_the_validator_does_the_rest(tmp_path: Path) -> None:
    """A file goes to the zygote as soon as its source is read, and its answer comes back
    before the run asks for it (finish()): the children do not wait for the validator
    to check the role files. Nothing here waits on time but for the answer to come."""
    import time

    from validation.loaders.dag.dags import Loading

    clean = "environments/dev/dags/clean/clean_dag.py"
    (tmp_path / clean).parent.mkdir(parents=True)
    (tmp_path / clean).write_text((FIXTURE / clean).read_text(encoding="utf-8"), encoding="utf-8")
    loading = Loading(str(tmp_path), [DagFileRequest(clean, "dev", "clean", "clean_dag")], [],
                      LoadSettings(timeout=10.0), jobs=1)
    try:
        assert loading.exchange is not None
        answers = loading.exchange._outbox  # hello, the file's result, the end
        deadline = time.monotonic() + 120
        while answers.qsize() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answers.qsize() == 3
        dags, _ = loading.finish()
    finally:
        loading.stop()
    assert [dag.dag_id for dag in dags[clean].dags] == ["clean.clean_dag"]


def test_the_results_held_for_the_run_are_bounded() -> None:
    """The exchange's thread holds at most a budget of results the run has not taken
    (supervisor.Budget): one more waits until the run takes one, or until the run stops."""
    import threading

    from validation.loaders.dag.supervisor import Budget

    budget = Budget(100)
    budget.take(150)  # over the limit, but alone: nothing to wait for
    budget.give(150)
    budget.take(60)
    taken = threading.Event()
    waiting = threading.Thread(target=lambda: (budget.take(50), taken.set()))
    waiting.start()
    assert not taken.wait(0.3)  # 60 + 50 > 100: it waits
    budget.give(60)
    assert taken.wait(30) and budget.held == 50
    stuck = threading.Event()
    threading.Thread(target=lambda: (budget.take(80), stuck.set())).start()
    assert not stuck.wait(0.3)
    budget.open()  # the run stops: nothing waits any more
    assert stuck.wait(30) and budget.held == 130
    waiting.join()
