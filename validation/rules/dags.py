"""DAG rules: what importing a DAG file with the real Airflow showed (DagFileFacts)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from validation.facts import (
    DagFacts,
    DagFileFacts,
    ImportedName,
    RepoFacts,
    SourceFacts,
    TaskFacts,
)
from validation.problems import Finding, Level
from validation.registry import Subject, rule
from validation.rules.secret_patterns import secret_kind

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
    The problem points at the deepest line of the file in the traceback. Common causes
    get a hint: a trailing comma that made a dict a tuple (`default_args = {...},`), a
    preset written with spaces or capitals (`"@ daily"`).

    Bad:

        dag = DAG(dag_id="examples.write_to_s3", schedule_interval="0 0 * *")

    Good:

        dag = DAG(dag_id="examples.write_to_s3", schedule_interval="0 0 * * *")
    """
    error = facts.import_error
    if error is None:
        return
    message, line, column = error.message, error.line, error.column
    if error.kind in SCHEDULE_ERRORS:
        message += _preset_hint(facts.source, line, column)
        message += f"; a schedule must be {SCHEDULE_HELP}"
    for name, comma_line, comma_column in facts.source.trailing_comma_tuples:
        message += (f"; the trailing comma at line {comma_line} makes {name} a tuple, not a "
                    "dict: remove it")
        if not line:
            line, column = comma_line, comma_column
        break
    yield Finding(message, line, column)


def _preset_hint(source: SourceFacts, line: int, column: int) -> str:
    """"did you mean '@daily'?" for a schedule literal that is a preset misspelt with
    spaces or capitals ("@daily ", "@ daily", "Daily")."""
    literal = next((s for s in source.strings if (s.line, s.column) == (line, column)), None)
    if literal is None:
        return ""
    squeezed = "".join(literal.value.split()).lower()
    preset = next((p for p in PRESETS if squeezed in (p, p[1:])), None)
    if preset is None or preset == literal.value:
        return ""
    return f"; did you mean '{preset}'? (a preset has no spaces or capitals)"


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


@rule("DAG016", "missing-owner", Level.WARNING, Subject.DAG)
def missing_owner(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG's default_args name no owner, or the default owner "airflow".

    Why: the Airflow UI shows the owner of each DAG; with Airflow's default, "airflow",
    nobody knows whom to ask about a failing DAG. The user guide's example sets it.

    Bad:

        default_args = {"depends_on_past": False}

    Good:

        default_args = {"depends_on_past": False, "owner": "examples"}
    """
    for dag in facts.registered_dags:
        owner = dag.owner
        if owner is not None and not isinstance(owner, str):
            continue
        if owner and owner.strip() and owner.strip().lower() != "airflow":
            continue
        fix = ("set \"owner\" in default_args to the team or person responsible "
               f"(e.g. \"{facts.project}\")")
        if owner is None or not owner.strip():
            yield Finding(f"DAG '{dag.dag_id}' has no owner: {fix}", dag.line, dag.column)
            continue
        literal = next((s for s in facts.source.strings if s.name == "owner" and s.value == owner),
                       None)
        line, column = (literal.line, literal.column) if literal else (dag.line, dag.column)
        yield Finding(f"DAG '{dag.dag_id}' has Airflow's default owner '{owner}': {fix}",
                      line, column)


@rule("DAG018", "foreign-import", Level.ERROR, Subject.DAG)
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
    for task in _tasks(facts):
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


@rule("DAG020", "slow-import", Level.WARNING, Subject.DAG)
def slow_import(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """Importing the DAG file took longer than the budget (15 s by default).

    Why: Airflow parses every DAG file again every few minutes and gives up on a file
    after dagbag_import_timeout (30 s by default): a slow file breaks in production
    even if it is correct, and slows down every other DAG. The budget is
    slow_import_seconds in setup.cfg [validation].

    Bad:

        # at the top level of the DAG file
        TABLES = requests.get("https://example.com/tables").json()

    Good:

        # do the work inside a task, when it runs; keep the top level fast
    """
    budget = repo.settings.slow_import_seconds
    if facts.crash is None and facts.import_seconds > budget:
        yield Finding(
            f"importing the file took {facts.import_seconds:.1f} s, more than the {budget:g} s "
            "budget (Airflow gives up at dagbag_import_timeout, 30 s by default): move slow "
            "work (network calls, reading files or data, heavy imports) out of the top level "
            "into tasks")


@rule("DAG021", "role-other-project", Level.WARNING, Subject.DAG)
def role_other_project(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A task uses a role whose name does not contain the project folder name.

    Why: each project should run with its own role, so that it gets only the access it
    needs; a role named after another project usually belongs to another team. The
    project name must appear as whole "_"-separated words after airflow_<env>_ ("-"
    counts as "_"): airflow_dev_cases_etl fits project cases, airflow_dev_showcases
    does not.

    Bad:

        # environments/dev/dags/examples/report.py
        ROLE = "airflow_dev_finance"

    Good:

        ROLE = "airflow_dev_examples"  # or airflow_dev_examples_<name>
    """
    prefix = f"airflow_{facts.env}_"
    project = _words(facts.project)
    for task, role in _roles(facts):
        name = _words(role)
        if not name.startswith(prefix) or f"_{project}_" in f"_{name[len(prefix):]}_":
            continue
        own = sorted(r for r in repo.roles.get(facts.env, ()) if f"_{project}_" in f"_{r}_")
        hint = (f"this project's roles: {', '.join(own)}" if own else
                f"add environments/{facts.env}/roles/{prefix}{project}.yaml")
        yield Finding(
            f"role '{role}' of task '{task.task_id}' does not name the project '{facts.project}':"
            f" use a role of this project ({hint})", task.role_line, task.role_column)


def _words(name: str) -> str:
    return name.lower().replace("-", "_")


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


@rule("DAG023", "network-at-import", Level.WARNING, Subject.DAG)
def network_at_import(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The DAG file uses the network when it is imported (the validator refused it).

    Why: Airflow imports every DAG file again every few minutes, on the scheduler: a
    network call at the top level of the file runs each time, slows down or breaks
    the parsing of every DAG when the other end is slow or down, and may leak data.
    The validator refuses network access while it imports a file (connections and name
    look-ups raise PermissionError), so the import may also fail (DAG001).

    Bad:

        TABLES = requests.get("https://example.com/tables").json()  # at the top level

    Good:

        def list_tables():  # called by a task, when it runs
            return requests.get("https://example.com/tables").json()
    """
    seen = set()
    for what, line in facts.network:
        if line in seen:
            continue
        seen.add(line)
        column = next((call.column for call in facts.source.calls if call.line == line), 0)
        yield Finding(f"the file tried to use the network when imported ({what}): move network "
                      "calls into a task; the validator refused it", line, column)
