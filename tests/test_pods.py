"""Pod rules (DAG010, DAG013, DAG014, DAG015, DAG017) and the source facts they rest on.

The fixture project tests/fixtures/dagrepo/environments/*/dags/pods marks every line it
expects flagged (test_dags.py checks the whole repository against the markers); here:
the positions and messages of those problems, a clean file, and the rules over plain
facts for cases a fixture file would not show well.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from validation.config import Config
from validation.facts import (
    DagFacts,
    DagFileFacts,
    LoadSettings,
    RepoFacts,
    RuleSettings,
    SourceFacts,
    TaskFacts,
)
from validation.loaders.dag.dags import DagFileRequest, load_python_files
from validation.loaders.source import argument_value, pod_literals
from validation.problems import Problem, Report
from validation.registry import Subject, all_rules
from validation.rules.pods import _split_image
from validation.run.checks import check_facts
from validation.run.runner import run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"
PODS = "environments/dev/dags/pods"
POD_RULES = ("DAG010", "DAG013", "DAG014", "DAG015", "DAG017")


@pytest.fixture(scope="module")
def report() -> Report:
    paths = sorted(path.relative_to(FIXTURE).as_posix()
                   for path in FIXTURE.glob("environments/*/dags/pods/*.py"))
    return run(FIXTURE, paths, everything=False, config=Config(dag_timeout=5.0), cwd=FIXTURE)


def _problems(report: Report, name: str, env: str = "dev") -> list[Problem]:
    path = f"environments/{env}/dags/pods/{name}"
    return [problem for problem in report.problems if problem.path == path]


def test_pods_set_up_as_the_guide_asks_yield_nothing(report: Report) -> None:
    assert _problems(report, "clean_pods.py") == []


def test_cross_env_references_point_at_the_literal(report: Report) -> None:
    problems = _problems(report, "cross_env.py")
    assert [(p.rule, p.line, p.column) for p in problems] == [
        ("DAG010", 10, 10), ("DAG010", 25, 17), ("DAG010", 36, 21)]
    assert "environments/prod/" in problems[0].message
    assert 'use environment="dev"' in problems[1].message


def test_an_environment_given_by_name_points_at_the_constant(report: Report) -> None:
    [problem] = _problems(report, "cross_env.py", env="prod")
    assert (problem.line, problem.column) == (12, 15)
    assert "environment 'dev'" in problem.message and 'use environment="prod"' in problem.message


def test_high_memory_problems_and_levels(report: Report) -> None:
    problems = _problems(report, "high_memory.py")
    assert [(p.line, p.level.value) for p in problems] == [
        (33, "error"), (42, "error"), (44, "error"), (60, "warning")]
    assert "add affinity=affinity" in problems[0].message
    assert "add tolerations=tolerations" in problems[1].message
    assert "add startup_timeout_seconds=600" in problems[2].message
    assert "short-timeout-0" in problems[3].message  # the loop's tasks, reported once


def test_service_account_messages_name_the_fix(report: Report) -> None:
    problems = _problems(report, "service_account.py")
    assert [p.line for p in problems] == [23, 33, 44]
    assert 'use "airflow-dev-pods"' in problems[0].message
    assert "does not match role 'airflow_dev_pods'" in problems[1].message
    assert "cluster_context 'aws'" in problems[2].message


def test_insecure_settings_point_at_their_literals(report: Report) -> None:
    problems = _problems(report, "insecure.py")
    assert [(p.line, p.column) for p in problems] == [
        (12, 19), (13, 33), (14, 21), (25, 17), (41, 5), (43, 19), (47, 21)]
    assert problems[3].message == (
        "task 'root' sets runAsUser=0: user 0 is root: with runAsNonRoot true, which the "
        "cluster requires, the container does not start; use a non-root user id, such as "
        "run_as_user=1000")
    assert problems[4].message.startswith(
        "task 'host-0' sets no runAsNonRoot: the cluster admits a pod only when runAsNonRoot "
        "is true (Kyverno policy require-run-as-nonroot, enforced); add security_context=")


def test_unpinned_images_are_warnings(report: Report) -> None:
    problems = _problems(report, "unpinned.py")
    assert {p.level.value for p in problems} == {"warning"}
    assert [p.line for p in problems] == [20, 26, 33]
    assert "registry 'docker.io'" in problems[2].message


# -- the rules over plain facts ---------------------------------------------------------


def _check(task: TaskFacts, env: str = "dev", settings: RuleSettings | None = None,
           environments: tuple[str, ...] = ("dev", "prod")) -> list[tuple[str, str]]:
    facts = DagFileFacts("environments/dev/dags/pods/x.py", env, "pods", "x", SourceFacts(),
                         dags=[DagFacts("pods.x", tasks=[task])])
    repo = RepoFacts("/repo", environments, {}, {}, {}, True,
                     settings or RuleSettings())
    rules = [all_rules()[rule_id] for rule_id in POD_RULES]
    return [(p.rule, p.message) for p in check_facts(Subject.DAG, facts.path, facts, repo, rules)]


def _pod(**settings: object) -> TaskFacts:
    pod = {"namespace": "airflow", "startup_timeout_seconds": 120,
           "image": "189157455002.dkr.ecr.eu-west-1.amazonaws.com/airflow-pods:v1.0.0",
           "security_context": {"runAsNonRoot": True}}
    pod.update(settings)
    return TaskFacts("task-1", "KubernetesPodOperator", True, line=3, pod=pod)


def test_a_plain_pod_yields_nothing() -> None:
    assert _check(_pod()) == []


def test_kubernetes_models_count_as_high_memory_settings() -> None:
    toleration = [{"effect": "NoSchedule", "key": "high-memory", "operator": "Equal",
                   "value": "true"}]
    selector = {"high-memory": "true"}
    assert _check(_pod(tolerations=toleration, node_selector=selector,
                       startup_timeout_seconds=900)) == []


def test_an_affinity_away_from_high_memory_nodes_is_not_one_for_them() -> None:
    away = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "high-memory", "operator": "NotIn", "values": ["true"]}]}]}}}
    assert _check(_pod(affinity=away)) == []


def test_snake_case_security_keys_are_read_too() -> None:
    [(rule, message)] = _check(_pod(security_context={"run_as_user": 0, "runAsNonRoot": True}))
    assert rule == "DAG015" and "runAsUser=0" in message


def test_false_is_not_user_zero() -> None:
    assert _check(_pod(security_context={"runAsUser": False, "runAsNonRoot": True})) == []


def test_registries_come_from_the_settings() -> None:
    task = _pod(image="ghcr.io/moj/tool:v1")
    settings = RuleSettings(image_registries=("ghcr.io",))
    assert _check(task, settings=settings) == []
    assert [rule for rule, _ in _check(task)] == ["DAG017"]


def test_a_cluster_outside_the_configured_environments_is_a_service_account_problem() -> None:
    task = _pod(cluster_context="analytical-platform-compute-production",
                service_account_name="airflow-dev-pods")
    assert [rule for rule, _ in _check(task)] == ["DAG010"]
    assert [rule for rule, _ in _check(task, environments=("dev",))] == ["DAG014"]


def test_another_environments_cluster_is_reported_once() -> None:
    task = _pod(cluster_context="analytical-platform-compute-test",
                service_account_name="airflow-prod-pods")
    assert [rule for rule, _ in _check(task, env="prod")] == ["DAG010"]


@pytest.mark.parametrize("image, expected", [
    ("python", ("docker.io", None)),
    ("python:3.11", ("docker.io", "3.11")),
    ("library/python:latest", ("docker.io", "latest")),
    ("localhost:5000/tool", ("localhost:5000", None)),
    ("189157455002.dkr.ecr.eu-west-1.amazonaws.com/a/b:v1", (
        "189157455002.dkr.ecr.eu-west-1.amazonaws.com", "v1")),
    ("ghcr.io/a/b@sha256:abc", ("ghcr.io", "sha256:abc")),
])
def test_split_image(image: str, expected: tuple[str, str | None]) -> None:
    assert _split_image(image) == expected


# -- source facts -------------------------------------------------------------------------

SOURCE = '''\
ENV = "prod"
ROLE = "airflow_dev_pods"
USER = "pods"
NAME = f"airflow_dev_{USER}"
TWICE = "a"
TWICE = "b"
make(role=ROLE, environment=ENV, x="environments/prod/a.yaml")
make(role=NAME, context={"privileged": True})
make(role=TWICE)
for role in ["airflow_dev_pods"]:
    make(role=role)
make(role=ROLE.upper())
"""A docstring about environments/prod/ is prose, not a reference."""
make(doc="https://github.com/org/airflow/tree/main/environments/prod/dags")
'''
NAMESPACE = {"ENV": "prod", "ROLE": "airflow_dev_pods", "USER": "pods",
             "NAME": "airflow_dev_pods", "TWICE": "b", "role": "airflow_dev_pods"}


def test_pod_literals_follow_names_bound_once() -> None:
    literals = pod_literals(ast.parse(SOURCE))
    assert literals == [("environment", "prod", 1, 7), ("", "environments/prod/a.yaml", 7, 36),
                        ("privileged", True, 8, 40)]


@pytest.mark.parametrize("line, expected", [
    (7, "airflow_dev_pods"),  # a name bound once
    (8, "airflow_dev_pods"),  # an f-string of names bound once
    (9, None),  # bound twice: which value the call saw depends on where it is
    (11, None),  # a loop variable
    (12, None),  # a call: never run
])
def test_argument_value(line: int, expected: str | None) -> None:
    assert argument_value(ast.parse(SOURCE), line, "role", NAMESPACE) == expected


def test_task_facts_carry_the_role_argument() -> None:
    request = DagFileRequest(f"{PODS}/service_account.py", "dev", "pods", "service_account")
    dags, _ = load_python_files(str(FIXTURE), [request], [], LoadSettings(timeout=5.0))
    tasks = dags[request.path].dags[0].tasks
    assert [task.role_argument for task in tasks] == [
        "airflow_dev_pods", "airflow_dev_pods", None, None]
    assert dags[request.path].source.pod_literals  # the file's literals, once per file
    json.dumps(dataclasses.asdict(dags[request.path]))  # plain data: raises on anything else


def test_plain_pods_need_run_as_non_root_at_pod_or_container_level(report: Report) -> None:
    """The cluster's require-run-as-nonroot: a pod with no security context, or one without
    runAsNonRoot, is refused; true for the pod or for its container is admitted; a
    container saying false overrides the pod."""
    problems = _problems(report, "plain_pods.py")
    assert [(p.rule, p.line) for p in problems] == [("DAG015", 20), ("DAG015", 27),
                                                    ("DAG015", 40)]
    assert problems[0].message == (
        "task 'no-context' sets no runAsNonRoot: the cluster admits a pod only when "
        "runAsNonRoot is true (Kyverno policy require-run-as-nonroot, enforced); add "
        "security_context={\"runAsNonRoot\": True, \"runAsUser\": 1000} (a non-root user id the "
        "image can run as), or use BasicKubernetesPodOperator, which sets it")
    assert "sets runAsNonRoot=False" in problems[2].message


def test_an_image_built_from_an_unset_variable_says_so_without_none(report: Report) -> None:
    [problem] = _problems(report, "image_from_env.py")
    assert (problem.rule, problem.line) == ("DAG017", 18)
    assert "None" not in problem.message
    assert "built from the environment variable POD_IMAGE_ACCOUNT, which the validator's " \
        "workers do not have" in problem.message


def test_a_mojap_pod_needs_no_security_context_of_its_own() -> None:
    """mojap-airflow-tools sets runAsNonRoot: true; the facts carry it like any other."""
    task = _pod(security_context={"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                  "privileged": False})
    task.mojap = True
    assert _check(task) == []
# -- every task is checked, at the line of this file that led to it ------------------------


def test_a_helper_a_loop_and_a_class_of_the_file_each_report_their_pods(report: Report) -> None:
    problems = _problems(report, "made_by_helpers.py")
    assert [(p.line, p.rule) for p in problems] == [
        (50, "DAG017"),  # the helper's second call: python:latest
        (51, "DAG015"),  # its third: kube-system, at the literal on that line
        (53, "DAG017"),  # the loop's 32 pods: one problem
        (54, "DAG015"),  # the class's instantiation, not its super().__init__ (line 38)
    ]
    helper, third, loop, team = problems
    assert "'second'" in helper.message and "more task" not in helper.message
    assert (third.column, "'third'" in third.message) == (24, True)
    assert "'load-0'" in loop.message and "(and 31 more tasks here: 'load-1'" in loop.message
    assert "'team'" in team.message and "namespace='kube-system'" in team.message


def test_tasks_are_grouped_by_place_and_message_only() -> None:
    from validation.problems import TASK, Finding
    from validation.run.checks import group_findings, task_message

    findings = [Finding(f"task {TASK} is bad", 3, 1, task=f"t-{n}") for n in range(8)]
    findings += [Finding(f"task {TASK} is worse", 3, 1, task="t-0"),
                 Finding("no task here", 3, 1), Finding("no task here", 3, 1)]
    groups = group_findings(findings)
    assert [(group.key[3], group.tasks) for group in groups] == [
        (f"task {TASK} is bad", [f"t-{n}" for n in range(8)]),
        (f"task {TASK} is worse", ["t-0"]), ("no task here", [])]
    assert [group.findings for group in groups] == [8, 1, 2]
    assert task_message(f"task {TASK} is bad", [f"t-{n}" for n in range(8)]) == (
        "task 't-0' is bad (and 7 more tasks here: 't-1', 't-2', 't-3', 't-4', 't-5', ...)")
    assert task_message(f"task {TASK} is bad", ["a", "b"]) == \
        "task 'a' is bad (and 1 more task here: 'b')"
    assert task_message("no task here", []) == "no task here"
