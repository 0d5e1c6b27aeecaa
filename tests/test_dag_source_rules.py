"""DAG016-DAG022 and IMP001-IMP004 beyond the marked fixtures of test_dags.py.

Rules are pure functions over facts, so most cases here build the facts by hand (or
from source text) and call the rule; the opt-in DAG022 and the time-dependent DAG020
run over their own small fixture repositories with the real Airflow.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from expectations import expected_problems

from validation.config import Config
from validation.facts import (
    DagFacts,
    DagFileFacts,
    ImportsModuleFacts,
    LoadSettings,
    RepoFacts,
    RuleSettings,
    SourceFacts,
    TaskFacts,
)
from validation.loaders.dag.dags import DagFileRequest, load_python_files
from validation.loaders.source import source_facts
from validation.registry import Subject, all_rules
from validation.rules.secret_patterns import is_placeholder, is_secret_name, secret_kind
from validation.run.checks import check_facts
from validation.run.runner import run

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RULES = all_rules()
REPO = RepoFacts(
    root="/repo", environments=("dev", "prod"),
    roles={"dev": frozenset({"airflow_dev_my_team", "airflow_dev_my_team_etl"}),
           "prod": frozenset()},
    projects={"dev": frozenset({"my_team", "cases", "cases_extra"}),
              "prod": frozenset({"finance"})},
    readmes={}, imports_has_init=True,
)


def dag_file(text: str = "", project: str = "my_team", **changes: object) -> DagFileFacts:
    facts = DagFileFacts(f"environments/dev/dags/{project}/a.py", "dev", project, "a",
                         source_facts(text))
    return dataclasses.replace(facts, **changes)


def findings(rule_id: str, facts: object, repo: RepoFacts = REPO) -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.message) for f in RULES[rule_id].check(facts, repo)]


# -- DAG016 missing-owner -----------------------------------------------------------------


@pytest.mark.parametrize("owner, flagged", [
    (None, True), ("", True), ("  ", True), ("airflow", True), ("Airflow", True),
    ("my_team", False), ("alice", False),
])
def test_owner_is_missing_or_airflow_s_default(owner: str | None, flagged: bool) -> None:
    facts = dag_file(dags=[DagFacts("my_team.a", line=3, column=7, owner=owner)])
    assert bool(findings("DAG016", facts)) is flagged


def test_an_unregistered_dag_has_no_owner_problem() -> None:
    facts = dag_file(dags=[DagFacts("my_team.a", line=3, registered=False)])
    assert findings("DAG016", facts) == []


# -- DAG018 foreign-import ----------------------------------------------------------------

IMPORTS = """\
from imports.finance_constants import BUCKET
from imports import finance_helpers, my_team_helpers
import imports.cases_extra_x, imports.my_team_constants
from imports.unknown_constants import X
from imports import *
from imports.finance_constants import A, B
"""


def test_foreign_imports_in_every_form_point_at_the_name() -> None:
    found = [(line, column) for line, column, _ in findings("DAG018", dag_file(IMPORTS))]
    assert found == [(1, 39), (2, 21), (3, 8), (6, 39)]


def test_the_owner_is_the_longest_project_name_the_module_starts_with() -> None:
    source = "from imports.cases_extra_x import A\nfrom imports.cases_x import B\n"
    found = findings("DAG018", dag_file(source, project="cases"))
    assert [line for line, _, _ in found] == [1]
    assert "belongs to project 'cases_extra'" in found[0][2]
    assert findings("DAG018", dag_file(source, project="cases_extra"))[0][0] == 2


def test_allowlisted_platform_modules_are_shared() -> None:
    repo = dataclasses.replace(
        REPO, settings=RuleSettings(imports_allowlist=frozenset({"finance_constants"})))
    found = findings("DAG018", dag_file("from imports.finance_constants import A\n"), repo)
    assert found == []


# -- DAG019 hardcoded-secret --------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "password", "DB_PASSWORD", "dbPassword", "PGPASSWORD", "passwd", "client_secret",
    "GITHUB_TOKEN", "api_key", "apiKey", "SECRET_KEY", "private_key", "aws_secret_access_key",
])
def test_password_like_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    None, "", "secret_name", "SECRET_ARN", "token_url", "max_tokens", "password_file",
    "secrets", "aws_access_key_id", "owner",
])
def test_names_that_are_not_password_like(name: str | None) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize("value", [
    "", "   ", "****", "xxxxxxxx", "{{ var.value.db_password }}", "${DB_PASSWORD}",
    "<password>", "changeme", "my-example-password", "dummy", "None", "TODO", "password",
    "DB_PASSWORD", "arn:aws:secretsmanager:eu-west-1:1:secret:db", "/run/secrets/db",
    "postgres://db.example/x",
])
def test_placeholders_and_references_are_not_secrets(value: str) -> None:
    assert is_placeholder(value, "DB_PASSWORD")
    assert secret_kind(value, "DB_PASSWORD") is None


def test_the_secret_is_never_repeated_in_the_description() -> None:
    for value, name in (("AKIAQWERTYUIOPASDFGH", None), ("hunter2-x", "password"),
                        ("-----BEGIN RSA PRIVATE KEY-----\nabc", None)):
        kind = secret_kind(value, name)
        assert kind and value not in kind and "QWERTY" not in kind and "hunter" not in kind


def test_key_ids_need_exactly_16_characters_and_no_example() -> None:
    assert secret_kind("id=ASIAQWERTYUIOPASDFGH;") is not None
    assert secret_kind("AKIAQWERTYUIOPASDFG") is None  # 15
    assert secret_kind("AKIAQWERTYUIOPASDFGHJ") is None  # 17
    assert secret_kind("AKIAIOSFODNN7EXAMPLE") is None


def test_a_secret_env_var_from_outside_the_file_points_at_env_vars() -> None:
    source = "Op(\n    task_id='t',\n    env_vars=ENV,\n)\n"
    task = TaskFacts("t", "KubernetesPodOperator", True, line=1,
                     pod={"env_vars": [{"name": "API_TOKEN", "value": "tok-123456"},
                                       {"name": "RUN", "value": "write"}]})
    facts = dag_file(source, dags=[DagFacts("my_team.a", tasks=[task])])
    [(line, column, message)] = findings("DAG019", facts)
    assert (line, column) == (3, 14)
    assert "'API_TOKEN'" in message and "tok-123456" not in message


def test_the_full_run_never_prints_a_fixture_secret() -> None:
    report = run(FIXTURES / "dagrepo", ["environments/dev/dags/cases/hardcoded_secret.py"],
                 everything=False, config=Config(dag_timeout=10.0), cwd=FIXTURES / "dagrepo")
    messages = " ".join(p.message for p in report.problems)
    assert len([p for p in report.problems if p.rule == "DAG019"]) == 7
    for secret in ("QWERTY", "Zx9/", "not-a-real-key", "Tr0ub4dor", "s3cr3t", "tok-9f8e",
                   "k-1234567890"):
        assert secret not in messages


# -- DAG020 slow-import -------------------------------------------------------------------


def test_an_import_slower_than_the_budget_is_flagged() -> None:
    repo = dataclasses.replace(REPO, settings=RuleSettings(slow_import_seconds=15.0))
    assert findings("DAG020", dag_file(import_seconds=14.9), repo) == []
    [(line, _, message)] = findings("DAG020", dag_file(import_seconds=15.5), repo)
    assert line == 0 and "took 15.5 s, more than the 15 s budget" in message


def test_a_file_that_timed_out_is_left_to_dag002() -> None:
    from validation.facts import ErrorFacts

    facts = dag_file(import_seconds=40.0, crash=ErrorFacts("timeout", "too slow"))
    assert findings("DAG020", facts) == []


def test_a_real_slow_file_against_a_tiny_budget() -> None:
    root = FIXTURES / "slowrepo"
    report = run(root, [], everything=True, config=Config(slow_import_seconds=0.1), cwd=root)
    assert {(p.path, p.line, p.rule, p.level.value) for p in report.problems} == \
        expected_problems(root)


# -- DAG021 role-other-project ------------------------------------------------------------


def role_facts(role: str, project: str = "my_team") -> DagFileFacts:
    task = TaskFacts("t", "KubernetesPodOperator", True, role=role, role_line=5, role_column=10)
    return dag_file(project=project, dags=[DagFacts(f"{project}.a", tasks=[task])])


@pytest.mark.parametrize("role, project, flagged", [
    ("airflow_dev_my_team", "my_team", False),
    ("airflow_dev_my_team_etl", "my_team", False),
    ("airflow_dev_etl_my_team", "my_team", False),
    ("airflow-dev-my-team", "my_team", False),  # DAG009's problem, not this one
    ("airflow_dev_my_team", "my-team", False),
    ("airflow_dev_other_team", "my_team", True),
    ("airflow_dev_my_teams", "my_team", True),  # whole words only
    ("airflow_dev_showcases", "cases", True),
    ("airflow_prod_other", "my_team", False),  # another env's role: DAG008
])
def test_role_names_the_project(role: str, project: str, flagged: bool) -> None:
    assert bool(findings("DAG021", role_facts(role, project))) is flagged


def test_role_other_project_suggests_the_project_s_roles() -> None:
    [(line, column, message)] = findings("DAG021", role_facts("airflow_dev_other_team"))
    assert (line, column) == (5, 10)
    assert "airflow_dev_my_team, airflow_dev_my_team_etl" in message


# -- DAG022 airflow3-deprecation (opt-in) -------------------------------------------------


def test_airflow3_deprecation_is_opt_in() -> None:
    assert RULES["DAG022"].default is False
    facts = dag_file('DAG(schedule_interval="@daily")')
    assert findings("DAG022", facts)
    assert [p for p in check_facts(Subject.DAG, facts.path, facts, REPO) if p.rule == "DAG022"] \
        == []


def test_airflow3_deprecations_flag_each_marked_line() -> None:
    root = FIXTURES / "airflow3"
    paths = sorted(p.relative_to(root).as_posix() for p in root.glob("environments/*/dags/*/*.py"))
    requests = [DagFileRequest(path, "dev", "airflow3", Path(path).stem) for path in paths]
    dags, _ = load_python_files(str(root), requests, [], LoadSettings(timeout=10))
    found = set()
    for path, facts in dags.items():
        assert facts.import_error is None and facts.crash is None
        for problem in check_facts(Subject.DAG, path, facts, REPO, [RULES["DAG022"]]):
            found.add((path, problem.line, problem.rule, problem.level.value))
    assert found == expected_problems(root)


def test_airflow3_deprecation_names_the_replacement() -> None:
    source = "from airflow.operators.dummy import DummyOperator\nDAG(schedule_interval=None)\n"
    messages = [message for _, _, message in findings("DAG022", dag_file(source))]
    assert "use schedule=" in messages[0]
    assert "use airflow.operators.empty.EmptyOperator" in messages[1]


# -- IMP001 module-prefix / IMP002 unknown-project / IMP004 defines-dag --------------------


@pytest.mark.parametrize("name, rule", [
    ("my_team_constants", None),
    ("finance_x", None),  # a project of another environment still owns it
    ("cases_extra_helpers", None),
    ("helpers", "IMP001"),
    ("my_team", "IMP001"),  # the project name alone: no <name> part
    ("_private", "IMP001"),
    ("shared_constants", "IMP002"),
    ("myteam_constants", "IMP002"),
    ("high_memory_constants", None),  # allowlisted
])
def test_module_prefix_and_unknown_project_split(name: str, rule: str | None) -> None:
    repo = dataclasses.replace(
        REPO, settings=RuleSettings(imports_allowlist=frozenset({"high_memory_constants"})))
    module = ImportsModuleFacts(f"imports/{name}.py", name)
    flagged = [rule_id for rule_id in ("IMP001", "IMP002")
               if list(RULES[rule_id].check(module, repo))]
    assert flagged == ([rule] if rule else [])


def test_unknown_project_suggests_the_closest_project() -> None:
    module = ImportsModuleFacts("imports/my_tem_constants.py", "my_tem_constants")
    [(_, _, message)] = findings("IMP002", module)
    assert "starts with 'my_tem_'" in message and "did you mean 'my_team'?" in message


def test_defines_dag_points_at_each_dag() -> None:
    module = ImportsModuleFacts("imports/my_team_x.py", "my_team_x",
                                defines_dags=[DagFacts("my_team.x", line=4, column=7)])
    [(line, column, message)] = findings("IMP004", module)
    assert (line, column) == (4, 7) and "'my_team.x'" in message


def test_source_facts_are_plain_and_complete() -> None:
    facts = source_facts(IMPORTS)
    assert isinstance(facts, SourceFacts)
    assert [(n.qualified, n.line) for n in facts.imported_names][:3] == [
        ("imports.finance_constants.BUCKET", 1), ("imports.finance_helpers", 2),
        ("imports.my_team_helpers", 2)]
