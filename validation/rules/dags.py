"""DAG rules: what importing a DAG file with the real Airflow showed (DagFileFacts)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from validation.facts import DagFacts, DagFileFacts, RepoFacts, TaskFacts
from validation.problems import Finding, Level
from validation.registry import Subject, rule

TASK_ID = re.compile(r"[A-Za-z0-9-]+")
ROLE_NAME = re.compile(r"[a-z0-9_]+")
PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly",
           "@annually")
# Exceptions Airflow raises for a schedule it cannot parse (cron_descriptor's FormatError
# comes first for a malformed cron string or an unknown preset).
SCHEDULE_ERRORS = frozenset({"AirflowTimetableInvalid", "FormatError"})
CRON_FIELDS = "minute hour day-of-month month day-of-week"
SCHEDULE_HELP = f"None, a 5-field cron string ('{CRON_FIELDS}'), a preset ({', '.join(PRESETS)})" \
    " or a datetime.timedelta"


@rule("DAG001", "import-error", Level.ERROR, Subject.DAG)
def import_error(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The file fails to import: a syntax error, an exception, an invalid schedule, a cycle.

    Why: Airflow shows a broken DAG file as an import error and runs none of its tasks.
    The problem points at the deepest line of the file in the traceback.

    Bad:

        dag = DAG(dag_id="examples.write_to_s3", schedule_interval="0 0 * *")

    Good:

        dag = DAG(dag_id="examples.write_to_s3", schedule_interval="0 0 * * *")
    """
    error = facts.import_error
    if error is None:
        return
    message = error.message
    if error.kind in SCHEDULE_ERRORS:
        message += f"; a schedule must be {SCHEDULE_HELP}"
    yield Finding(message, error.line, error.column)


@rule("DAG002", "import-crash", Level.ERROR, Subject.DAG)
def import_crash(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """Importing the file hung, exited or killed its process.

    Why: Airflow's parser gives each file a time limit (dagbag_import_timeout, 30 s by
    default) and a file that exits or crashes the parser is never scheduled. The
    validator imports each file in a supervised process, so the other files are still
    checked.

    Bad:

        import sys
        sys.exit(0)  # or a loop that never ends, or a slow call at the top level

    Good:

        # Keep the top level of a DAG file fast: build the DAG, do no work.
    """
    crash = facts.crash
    if crash is None:
        return
    if crash.kind == "timeout":
        where = f" (it was at line {crash.line})" if crash.line else ""
        message = (f"importing the file took too long{where}: {crash.message}. Move slow work "
                   "out of the top level of the file")
    elif crash.kind == "exit":
        message = f"{crash.message} while the file was imported: remove it"
    else:
        message = crash.message
    yield Finding(message, crash.line, crash.column)


@rule("DAG003", "multiple-dags", Level.ERROR, Subject.DAG)
def multiple_dags(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The file defines more than one DAG.

    Why: the user guide asks for one DAG per Python file, and the dag_id convention
    (<project>.<file>) can only hold for one of them.

    Bad:

        dag_a = DAG(dag_id="examples.report", ...)
        dag_b = DAG(dag_id="examples.report_weekly", ...)

    Good:

        # examples/report.py
        dag = DAG(dag_id="examples.report", ...)
        # examples/report_weekly.py
        dag = DAG(dag_id="examples.report_weekly", ...)
    """
    dags = facts.registered_dags
    if len(dags) < 2:
        return
    first = dags[0]
    for extra in dags[1:]:
        yield Finding(
            f"a second DAG '{extra.dag_id}' in this file (the first is '{first.dag_id}' at line "
            f"{first.line}): keep one DAG per file and move this one to its own file",
            extra.line, extra.column)


@rule("DAG004", "no-dag", Level.ERROR, Subject.DAG)
def no_dag(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The file defines no DAG that Airflow can find.

    Why: a Python file in a project folder is deployed as a DAG file; helpers and
    constants shared between DAGs belong in imports/.

    Bad:

        # environments/dev/dags/examples/constants.py
        BUCKET = "alpha-examples"

    Good:

        # imports/examples_constants.py
        BUCKET = "alpha-examples"
    """
    if facts.import_error or facts.crash or facts.registered_dags:
        return
    if facts.dags:
        hidden = facts.dags[0]
        yield Finding(
            f"the DAG '{hidden.dag_id}' created here is not a module-level variable, so Airflow "
            "does not find it: assign it at the top level (dag = DAG(...)) or use `with DAG(...)`",
            hidden.line, hidden.column)
        return
    yield Finding("no DAG is defined in this file: define one DAG, or move shared code to "
                  f"imports/{facts.project}_<name>.py")


@rule("DAG005", "dag-id-convention", Level.ERROR, Subject.DAG)
def dag_id_convention(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The dag_id is not <project folder>.<file name>.

    Why: the platform names DAGs after where they live, so two analysts cannot pick the
    same dag_id and a DAG can be found from its name.

    Bad:

        # environments/dev/dags/examples/write_to_s3.py
        dag = DAG(dag_id="alice_write", ...)

    Good:

        dag = DAG(dag_id="examples.write_to_s3", ...)
    """
    expected = f"{facts.project}.{facts.name}"
    for dag in facts.registered_dags:
        if dag.dag_id != expected:
            yield Finding(
                f"dag_id '{dag.dag_id}' should be '{expected}' (<project folder>.<file name>)",
                dag.dag_id_line, dag.dag_id_column)


@rule("DAG006", "task-id-chars", Level.ERROR, Subject.DAG)
def task_id_chars(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A task_id uses characters other than letters, digits and dashes.

    Why: the task_id names the Kubernetes pod, which allows no "_" or spaces;
    mojap-airflow-tools refuses them. It is an error for pod tasks and a warning for
    other operators.

    Bad:

        BasicKubernetesPodOperator(task_id="write_file", ...)

    Good:

        BasicKubernetesPodOperator(task_id="write-file", ...)
    """
    for task in _tasks(facts):
        if not TASK_ID.fullmatch(task.task_id):
            fixed = re.sub(r"[^A-Za-z0-9-]+", "-", task.task_id).strip("-") or "task-1"
            yield Finding(
                f"task_id '{task.task_id}' may only use letters, digits and '-': "
                f"use '{fixed}'", task.task_id_line, task.task_id_column,
                Level.ERROR if task.is_pod else Level.WARNING)


@rule("DAG007", "role-missing", Level.ERROR, Subject.DAG)
def role_missing(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A task uses a role that has no role file in the DAG's environment.

    Why: the deployment creates an IAM role only for each file in
    environments/<env>/roles/; a task whose role does not exist fails when it runs.

    Bad:

        # there is no environments/dev/roles/airflow_dev_examples_typo.yaml
        ROLE = "airflow_dev_examples_typo"

    Good:

        ROLE = "airflow_dev_examples"  # environments/dev/roles/airflow_dev_examples.yaml exists
    """
    known = repo.roles.get(facts.env, frozenset())
    for task, role in _roles(facts):
        if not _well_formed(role, facts.env) or role in known:
            continue
        close = difflib.get_close_matches(role, sorted(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        yield Finding(
            f"role '{role}' of task '{task.task_id}' has no role file "
            f"environments/{facts.env}/roles/{role}.yaml{hint}: add it or use an existing role",
            task.role_line, task.role_column)


@rule("DAG008", "role-wrong-env", Level.ERROR, Subject.DAG)
def role_wrong_env(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A task uses a role that does not belong to the DAG's environment.

    Why: a DAG in environments/dev may only use roles named airflow_dev_*, and a prod DAG
    only airflow_prod_*; the cluster lets pods assume no others, and environments must
    not share access.

    Bad:

        # environments/dev/dags/examples/write_to_s3.py
        ROLE = "airflow_prod_examples"

    Good:

        ROLE = "airflow_dev_examples"
    """
    prefix = f"airflow_{facts.env}_"
    for task, role in _roles(facts):
        # Compare the name as DAG009 would fix it, so one mistake is reported once.
        if not role.lower().replace("-", "_").startswith(prefix):
            yield Finding(
                f"role '{role}' of task '{task.task_id}' is not a {facts.env} role: a DAG in "
                f"environments/{facts.env} may only use roles named {prefix}<name>",
                task.role_line, task.role_column)


@rule("DAG009", "role-name-chars", Level.ERROR, Subject.DAG)
def role_name_chars(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A role name uses characters other than lowercase letters, digits and "_".

    Why: role names are also role file names and must match iam_role_name exactly;
    the platform's roles use only [a-z0-9_].

    Bad:

        ROLE = "airflow-dev-examples"

    Good:

        ROLE = "airflow_dev_examples"
    """
    for task, role in _roles(facts):
        if not ROLE_NAME.fullmatch(role):
            fixed = re.sub(r"[^a-z0-9_]+", "_", role.lower()).strip("_")
            yield Finding(
                f"role '{role}' of task '{task.task_id}' may only use a-z, 0-9 and '_': "
                f"use '{fixed}'", task.role_line, task.role_column)


@rule("DAG011", "dynamic-start-date", Level.ERROR, Subject.DAG)
def dynamic_start_date(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG has no start_date, or one computed when the file is parsed.

    Why: the scheduler parses DAG files every few minutes; a start_date from
    datetime.now() or days_ago() moves each time, so runs are never or wrongly
    scheduled. The user guide says: DO NOT use datetime.now().

    Bad:

        dag = DAG(dag_id="examples.report", start_date=datetime.now(), ...)

    Good:

        dag = DAG(dag_id="examples.report", start_date=datetime(2022, 1, 1), ...)
    """
    fix = "use a fixed date such as datetime(2022, 1, 1)"
    for call in facts.source.parse_time_start_dates:
        yield Finding(f"start_date is computed at parse time by {call.name}(): {fix}",
                      call.line, call.column)
    if facts.source.parse_time_start_dates:
        return
    for dag in facts.registered_dags:
        if dag.start_date is None:
            yield Finding(f"DAG '{dag.dag_id}' has no start_date: {fix}", dag.line, dag.column)
        elif dag.start_date_near_import:
            yield Finding(f"start_date of DAG '{dag.dag_id}' is the time the file was parsed "
                          f"(computed at import, as datetime.now() does): {fix}",
                          dag.line, dag.column)


@rule("DAG012", "bad-schedule", Level.ERROR, Subject.DAG)
def bad_schedule(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The schedule is not None, a 5-field cron string, a preset or a timedelta.

    Why: the user guide allows these forms only. Airflow also accepts 6-field cron
    strings (with seconds), dataset triggers and custom timetables, which the platform
    does not support.

    Bad:

        dag = DAG(..., schedule_interval="0 0 * * * *")

    Good:

        dag = DAG(..., schedule_interval="0 0 * * *")  # or "@daily", None, timedelta(hours=6)
    """
    for dag in facts.registered_dags:
        problem = _schedule_problem(dag)
        if problem:
            yield Finding(f"schedule of DAG '{dag.dag_id}' {problem}; use {SCHEDULE_HELP}",
                          dag.schedule_line, dag.schedule_column)


def _schedule_problem(dag: DagFacts) -> str | None:
    if dag.schedule_kind in ("none", "timedelta"):
        return None
    value = dag.schedule_value or ""
    if dag.schedule_kind != "str":
        return f"is a {dag.schedule_kind} ({value})"
    if value.startswith("@"):
        return None if value in PRESETS else f"'{value}' is not a supported preset"
    fields = value.split()
    if len(fields) != 5:
        return f"'{value}' has {len(fields)} fields, not 5"
    return None


def _tasks(facts: DagFileFacts) -> Iterator[TaskFacts]:
    for dag in facts.registered_dags:
        yield from dag.tasks


def _roles(facts: DagFileFacts) -> Iterator[tuple[TaskFacts, str]]:
    """Each task's role, once per role and line (tasks made in a loop share a line)."""
    seen: set[tuple[str, int]] = set()
    for task in _tasks(facts):
        if task.role is None or (task.role, task.role_line) in seen:
            continue
        seen.add((task.role, task.role_line))
        yield task, task.role


def _well_formed(role: str, env: str) -> bool:
    return role.startswith(f"airflow_{env}_") and bool(ROLE_NAME.fullmatch(role))
