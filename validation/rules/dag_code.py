"""DAG code rules: what the source of a DAG file contains (DagFileFacts.source and pod
settings): imports of another project's modules, secrets written in the code, and what
Airflow 3 removes (opt-in).
"""

from __future__ import annotations

from collections.abc import Iterator

from validation.facts import (
    DagFileFacts,
    ImportedName,
    RepoFacts,
    SourceFacts,
    TaskFacts,
)
from validation.problems import Finding, Level
from validation.registry import Reads, Subject, rule
from validation.rules.secret_patterns import secret_kind


@rule("DAG018", "foreign-import", Level.ERROR, Subject.DAG,
      reads=[Reads.PROJECTS])
def foreign_import(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG imports a module of imports/ that belongs to another project.

    Why: a module in imports/ belongs to the project its name starts with
    (imports/<project>_<name>.py); a change its owners make for their own DAGs can break
    yours. The owner is the longest project folder name (in any environment) that the
    module name starts with, followed by "_"; modules of imports_allowlist are shared.

    Bad:

        # environments/dev/dags/examples/report.py
        from imports.finance_constants import BUCKET

    Good:

        # copy what you need into imports/examples_constants.py
        from imports.examples_constants import BUCKET
    """
    projects = set().union(*repo.projects.values())
    seen: set[tuple[int, str]] = set()
    for imported in facts.source.imported_names:
        module = _imports_module(imported)
        if module is None or module in repo.settings.imports_allowlist \
                or (imported.line, module) in seen:
            continue
        seen.add((imported.line, module))
        owner = max((p for p in projects if module.startswith(f"{p}_")), key=len, default=None)
        if owner is None or owner == facts.project:
            continue
        yield Finding(
            f"imports/{module}.py belongs to project '{owner}' (its name starts with "
            f"'{owner}_'): a DAG in '{facts.project}' should only import "
            f"imports/{facts.project}_*.py; copy what it needs into "
            f"imports/{facts.project}_<name>.py", imported.line, imported.column)


def _imports_module(imported: ImportedName) -> str | None:
    """The imports/ module an import names: imports.x, from imports.x import y,
    from imports import x."""
    if imported.module == "imports":
        return imported.name if imported.name not in (None, "*") else None
    if imported.module.startswith("imports."):
        return imported.module.split(".")[1]
    return None


SECRET_FIX = ("remove it from the code and rotate it (it stays in the git history); read it at "
              "run time instead, e.g. from AWS Secrets Manager (secretsmanager in the role)")


@rule("DAG019", "hardcoded-secret", Level.ERROR, Subject.DAG)
def hardcoded_secret(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG file or a task's env_vars holds a secret: a key, a password, a token.

    Why: DAG files are in git and readable by everyone who can read the repository, and
    env_vars are shown in the Airflow UI. Flagged: AWS access key ids (AKIA/ASIA + 16
    characters), private key blocks, and non-empty strings given to a name ending in
    password, passwd, passphrase, secret, token, api_key, secret_key, private_key or
    secret_access_key. Placeholders are not flagged: blank strings, masks (****),
    templates ({{ var.value.x }}, ${X}, <password>), values with changeme, example,
    dummy or placeholder, ARNs, paths and URLs. The message never repeats the secret.
    A value that only names a secret belongs in a name ending in _name or _id.

    Bad:

        env_vars = {"DB_PASSWORD": "hunter2"}

    Good:

        env_vars = {"DB_SECRET_NAME": "my-project/db"}  # read the secret at run time
    """
    flagged: set[tuple[int, int]] = set()
    for literal in facts.source.strings:
        kind = secret_kind(literal.value, literal.name)
        if kind and (literal.line, literal.column) not in flagged:
            flagged.add((literal.line, literal.column))
            yield Finding(f"{kind} is written in the file: {SECRET_FIX}",
                          literal.line, literal.column)
    for task, name, value in _env_vars(facts):
        kind = secret_kind(value, name)
        if not kind:
            continue
        line, column = _literal_position(facts.source, value) or _keyword_position(
            facts.source, task.line, "env_vars")
        if (line, column) not in flagged:
            flagged.add((line, column))
            yield Finding(f"{kind} in the env_vars of task '{task.task_id}': {SECRET_FIX}",
                          line, column)


def _env_vars(facts: DagFileFacts) -> Iterator[tuple[TaskFacts, str, str]]:
    """(task, name, value) of each pod env var with a plain string value."""
    for task in facts.registered_tasks:
        env_vars = task.pod.get("env_vars") or []
        if isinstance(env_vars, dict):
            env_vars = [{"name": key, "value": value} for key, value in env_vars.items()]
        for entry in env_vars if isinstance(env_vars, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("value"), str):
                yield task, str(entry.get("name")), entry["value"]


def _literal_position(source: SourceFacts, value: str) -> tuple[int, int] | None:
    return next(((s.line, s.column) for s in source.strings if s.value == value), None)


def _keyword_position(source: SourceFacts, line: int, keyword: str) -> tuple[int, int]:
    """The ``keyword`` argument of the call starting at ``line``, else the line itself."""
    for call in source.calls:
        if call.line == line and keyword in call.keywords:
            return call.keywords[keyword]
    return line, 0


# Modules and names removed in Airflow 3 (their Airflow 2.4 replacement works today).
REMOVED_IN_AIRFLOW_3 = {
    "airflow.operators.dummy": "airflow.operators.empty.EmptyOperator",
    "airflow.operators.dummy_operator": "airflow.operators.empty.EmptyOperator",
    "airflow.operators.bash_operator": "airflow.operators.bash",
    "airflow.operators.python_operator": "airflow.operators.python",
    "airflow.operators.subdag": "a TaskGroup (airflow.utils.task_group)",
    "airflow.operators.subdag_operator": "a TaskGroup (airflow.utils.task_group)",
    "airflow.sensors.external_task_sensor": "airflow.sensors.external_task",
    "airflow.contrib": "the provider packages (airflow.providers.*)",
    "airflow.utils.dates.days_ago": "a fixed date such as pendulum.datetime(2022, 1, 1)",
}


@rule("DAG022", "airflow3-deprecation", Level.WARNING, Subject.DAG, default=False)
def airflow3_deprecation(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG uses something Airflow 3 removed (opt-in: select DAG022 to run it).

    Why: the platform runs Airflow 2.4.3 today; these still work there but fail on
    Airflow 3: the schedule_interval argument (use schedule, available since 2.4),
    days_ago, airflow.contrib and the old operator modules (airflow.operators.dummy,
    bash_operator, python_operator, subdag, external_task_sensor). Each problem names
    the replacement.

    Bad:

        from airflow.operators.dummy import DummyOperator
        dag = DAG(..., schedule_interval="@daily")

    Good:

        from airflow.operators.empty import EmptyOperator
        dag = DAG(..., schedule="@daily")
    """
    for call in facts.source.calls:
        if "schedule_interval" in call.keywords:
            line, column = call.keywords["schedule_interval"]
            yield Finding("schedule_interval= is removed in Airflow 3: use schedule= (same "
                          "values, available since Airflow 2.4)", line, column)
    seen: set[int] = set()
    for imported in facts.source.imported_names:
        removed = next((key for key in REMOVED_IN_AIRFLOW_3 if imported.qualified == key
                        or imported.qualified.startswith(f"{key}.")), None)
        if removed and imported.line not in seen:
            seen.add(imported.line)
            yield Finding(f"{removed} is removed in Airflow 3: use "
                          f"{REMOVED_IN_AIRFLOW_3[removed]}", imported.line, imported.column)
