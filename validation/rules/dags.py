"""DAG rules: what importing a DAG file with the real Airflow showed about its DAG
(DagFileFacts): the import itself, one DAG with the right dag_id, task ids, the start
date, the schedule, the owner, how long the import took and what it tried to reach.

The roles tasks use are checked in validation.rules.task_roles, the code of the file in
validation.rules.dag_code and pod settings in validation.rules.pods.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from validation.facts import DagFacts, DagFileFacts, RepoFacts, SourceFacts
from validation.problems import TASK, Finding, Level
from validation.registry import Subject, rule

TASK_ID = re.compile(r"[A-Za-z0-9-]+")
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
    bad = [task for task in facts.registered_tasks if not TASK_ID.fullmatch(task.task_id)]
    places = Counter((task.task_id_line, task.task_id_column) for task in bad)
    for task in bad:
        if places[(task.task_id_line, task.task_id_column)] == 1:
            fixed = re.sub(r"[^A-Za-z0-9-]+", "-", task.task_id).strip("-") or "task-1"
            fix = f"use '{fixed}'"
        else:  # one problem for the tasks made here (a loop): the fix they share
            wrong = sorted(set(re.sub(r"[A-Za-z0-9-]", "", task.task_id)))
            fix = f"use '-' for {' and '.join(repr(character) for character in wrong)}"
        yield Finding(
            f"task_id {TASK} may only use letters, digits and '-': {fix}",
            task.task_id_line, task.task_id_column,
            Level.ERROR if task.is_pod else Level.WARNING, task=task.task_id)


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
