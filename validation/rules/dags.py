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

from validation.facts import (
    DagFacts,
    DagFileFacts,
    ErrorFacts,
    LiteralSite,
    RepoFacts,
    SourceFacts,
    TaskFacts,
)
from validation.problems import TASK, Finding, Fix, Level
from validation.registry import Subject, rule
from validation.rules import mends

TASK_ID = re.compile(r"[A-Za-z0-9-]+")
ID_SAFE = re.compile(r"[A-Za-z0-9_.-]+")  # a dag_id a fix can write without escaping
PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly",
           "@annually")
# Exceptions Airflow raises for a schedule it cannot parse (cron_descriptor's FormatError
# comes first for a malformed cron string or an unknown preset).
SCHEDULE_ERRORS = frozenset({"AirflowTimetableInvalid", "FormatError"})
CRON_FIELDS = "minute hour day-of-month month day-of-week"
SCHEDULE_HELP = f"None, a 5-field cron string ('{CRON_FIELDS}'), a preset ({', '.join(PRESETS)})" \
    " or a datetime.timedelta"


def read_from(item: DagFacts | TaskFacts) -> str:
    """What a message about a DAG or task read from the source says of it (the file did
    not import, so its literals speak: validation.loaders.source_dags)."""
    return " (read from the source: the file did not import)" if item.from_source else ""


@rule("DAG001", "import-error", Level.ERROR, Subject.DAG)
def import_error(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The file fails to import: a syntax error, an exception, an invalid schedule, a cycle.

    Why: Airflow shows a broken DAG file as an import error and runs none of its tasks.
    The problem points at the deepest line of the file in the traceback. Common causes
    get a hint: a trailing comma that made a dict a tuple (`default_args = {...},`), a
    preset written with spaces or capitals (`"@ daily"`), the guide's `<<username>>`
    replaced without quotes, a Variable or Connection read at parse time (there are none
    while validating: read them at run time), a relative path given to `open()` and a
    package the platform's Airflow does not have (it belongs in the task's image). The
    checks that literals decide still run on what the source shows (DAG005, DAG006,
    DAG007, DAG008, DAG009, DAG012, DAG021), in the same run, their messages marked
    "read from the source".

    Fix: `--fix` removes the trailing comma that made a dict (or list) a tuple.

    Bad:

        dag = DAG(dag_id="examples.write_to_s3", schedule_interval="0 0 * *")

    Good:

        dag = DAG(dag_id="examples.write_to_s3", schedule_interval="0 0 * * *")
    """
    error = facts.import_error
    if error is None or mojap_rejected_task_id(facts) is not None:
        return  # mojap's task_id check is DAG006, at the task_id
    message, line, column = error.message, error.line, error.column
    message += _error_hint(facts, error)
    if error.kind in SCHEDULE_ERRORS:
        message += _preset_hint(facts.source, line, column)
        message += f"; a schedule must be {SCHEDULE_HELP}"
    fix = None
    for name, comma_line, comma_column in facts.source.trailing_comma_tuples:
        message += (f"; the trailing comma at line {comma_line} makes {name} a tuple, not a "
                    "dict: remove it")
        if not line:
            line, column = comma_line, comma_column
        fix = _comma_fix(facts, name, comma_line)
        break
    yield Finding(message, line, column, fix=fix)


def _comma_fix(facts: DagFileFacts, name: str, line: int) -> Fix | None:
    """Delete the first trailing comma (SourceFacts.trailing_comma_spans is in step)."""
    spans = facts.source.trailing_comma_spans
    if not spans or len(spans) != len(facts.source.trailing_comma_tuples):
        return None
    edit = mends.replace(facts.path, facts.source.digest, spans[0], "")
    return mends.fix(f"remove the trailing comma at line {line} that makes {name} a tuple",
                     edit)


MOJAP_TASK_ID_ERRORS = (
    re.compile(r"ValueError: Input task_id \((.*)\) only allows these characters"),
    re.compile(r"ValueError: Characters '_' and ' ' are not allowed in task_id name given "
               r"\((.*)\)"),
)
NAME_ERROR = re.compile(r"NameError: name '([^']+)' is not defined")
VARIABLE_MISSING = re.compile(r"KeyError: 'Variable (.+) does not exist'")
CONNECTION_MISSING = re.compile(r"The conn_id `([^`]+)` isn't defined")
NO_SUCH_TABLE = re.compile(r"no such table: (variable|connection)\b")
RELATIVE_FILE = re.compile(
    r"FileNotFoundError: \[Errno 2\] No such file or directory: '([^/'][^']*)'")
NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")


def mojap_rejected_task_id(facts: DagFileFacts) -> str | None:
    """The task_id mojap-airflow-tools' BasicKubernetesPodOperator refused at import, if
    that is why the file failed (DAG006 reports it, not DAG001)."""
    error = facts.import_error
    if error is None or error.kind != "ValueError":
        return None
    for pattern in MOJAP_TASK_ID_ERRORS:
        match = pattern.match(error.message)
        if match:
            return match.group(1)
    return None


def _error_hint(facts: DagFileFacts, error: ErrorFacts) -> str:
    """What to do about the common import errors, or ""."""
    message = error.message
    if match := NAME_ERROR.match(message):
        name = match.group(1)
        target = next((t for t, value, line, _ in facts.source.bare_names
                       if value == name and line == error.line), None)
        if target is not None:
            return (f"; if {name} is a value, quote it: {target} = \"{name}\" (the user guide's "
                    "<<username>> stands for a string)")
        return ""
    if (match := VARIABLE_MISSING.search(message)) or (
            (table := NO_SUCH_TABLE.search(message)) and table.group(1) == "variable"):
        name = match.group(1) if match else "name"
        return ("; no Variables exist while validating, and a Variable read at the top level "
                "of the file queries the database every time the file is parsed: read it at "
                f"run time, with \"{{{{ var.value.{name} }}}}\" in a templated field such as "
                "env_vars, or inside the task's code")
    if CONNECTION_MISSING.search(message) or (
            (table := NO_SUCH_TABLE.search(message)) and table.group(1) == "connection"):
        return ("; no Connections exist while validating, and reading one at the top level of "
                "the file queries the database every time the file is parsed: give the "
                "conn_id to the operator or hook, which reads it at run time")
    if match := RELATIVE_FILE.match(message):
        path = match.group(1)
        return (f"; '{path}' is relative to the working directory, which is not the DAG's "
                "folder (here or on the platform): build the path from the file's own, "
                f"os.path.join(os.path.dirname(__file__), \"{path}\")")
    if (match := NO_MODULE.match(message)) and match.group(1) != "imports":
        module = match.group(1)
        return (f"; '{module}' is not installed on the platform's Airflow (README, \"What the "
                "validator's Airflow has\"): a package a task needs belongs in the task's "
                "image, used by the code the image runs, not imported by the DAG file")
    return ""


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

    Fix: when the file has one DAG and its `dag_id=` is a string literal or an f-string of
    module constants (directly, or through a variable only it reads), `--fix` writes
    `"<project folder>.<file name>"` in its place.

    Bad:

        # environments/dev/dags/examples/write_to_s3.py
        dag = DAG(dag_id="alice_write", ...)

    Good:

        dag = DAG(dag_id="examples.write_to_s3", ...)
    """
    expected = f"{facts.project}.{facts.name}"
    for dag in facts.read_dags:
        if dag.dag_id != expected:
            yield Finding(
                f"dag_id '{dag.dag_id}' should be '{expected}' (<project folder>.<file name>)"
                f"{read_from(dag)}", dag.dag_id_line, dag.dag_id_column,
                fix=_dag_id_fix(facts, dag, expected))


def _dag_id_fix(facts: DagFileFacts, dag: DagFacts, expected: str) -> Fix | None:
    if len(facts.read_dags) != 1 or not ID_SAFE.fullmatch(expected):
        return None  # two DAGs cannot both have the one right dag_id
    site = _literal(facts.source, dag.dag_id_line, dag.dag_id_column, "dag_id")
    if site is None or (site.value is not None and site.value != dag.dag_id):
        return None
    return mends.fix(f"set dag_id to '{expected}'",
                     mends.string_literal(facts.path, facts.source.digest, site, expected))


def _literal(source: SourceFacts, line: int, column: int, keyword: str) -> LiteralSite | None:
    """The literal that alone gives the ``keyword`` argument at (line, column) its value."""
    call = source.call_at(line, column, keyword) if line else None
    return call.literals.get(keyword) if call else None


@rule("DAG006", "task-id-chars", Level.ERROR, Subject.DAG)
def task_id_chars(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A task_id or pod name uses characters the platform does not allow.

    Why: mojap-airflow-tools' BasicKubernetesPodOperator names the pod after the task_id
    and refuses, when the file is imported, anything outside lowercase letters, digits,
    '.' and '-'; the user guide narrows that to lowercase letters, digits and '-'. Such a
    task_id is an error, at the task_id, even when mojap refused it. A plain
    KubernetesPodOperator is named by name= instead: provider 4.4.0 lowercases it, turns
    other characters into '-' and adds a random suffix, and the result must be a valid
    Kubernetes name (an error if not); its task_id, like any other operator's, should
    keep to letters, digits and '-' (a warning).

    Fix: when the task_id is a string literal (directly, or through a variable only it
    reads) that makes this one task, and no other task of the DAG has the new id, `--fix`
    writes the suggested id (runs of other characters become `-`) in its place.

    Bad:

        BasicKubernetesPodOperator(task_id="write_file", ...)
        KubernetesPodOperator(task_id="write-file", name="_write", ...)

    Good:

        BasicKubernetesPodOperator(task_id="write-file", ...)
        KubernetesPodOperator(task_id="write-file", name="write-file", ...)
    """
    fixes = _task_id_fixes(facts)
    rejected = mojap_rejected_task_id(facts)
    if rejected is not None:
        line, column = _rejected_position(facts, rejected)
        yield Finding(_mojap_task_id_message(f"'{rejected}'", f"use '{mojap_task_id(rejected)}'"),
                      line, column, None, _mojap_fix(facts, line, column, rejected))
    # A literal that makes many tasks (a loop, a helper): one problem with the fix they share.
    bad = [task for task in facts.read_tasks  # the refused one is reported above
           if not (MOJAP_TASK_ID if task.mojap else TASK_ID).fullmatch(task.task_id)
           and not (task.from_source and task.task_id == rejected)]
    places = Counter((task.task_id_line, task.task_id_column) for task in bad)
    for task in bad:
        shared = places[(task.task_id_line, task.task_id_column)] > 1
        where = (task.task_id_line, task.task_id_column)
        if task.mojap:
            hint = _shared_hint(bad, where, "[a-z0-9-]", "lowercase letters and ") if shared \
                else f"use '{mojap_task_id(task.task_id)}'"
            fix = None if shared else _mojap_fix(facts, *where, task.task_id)
            yield Finding(_mojap_task_id_message(TASK, hint + read_from(task)), *where,
                          fix=fix, task=task.task_id)
            continue
        hint = _shared_hint(bad, where, "[A-Za-z0-9-]", "") if shared \
            else f"use '{allowed_task_id(task.task_id)}'"
        named = " (the pod is named by name=, not by the task_id)" if task.is_pod else ""
        yield Finding(f"task_id {TASK} may only use letters, digits and '-'{named}: {hint}"
                      f"{read_from(task)}", *where, Level.WARNING, fixes.get(id(task)),
                      task=task.task_id)
    for task in facts.registered_tasks:
        if task.is_pod and not task.mojap:
            yield from _pod_name(facts, task)


def _shared_hint(bad: list[TaskFacts], where: tuple[int, int], allowed: str,
                 also: str) -> str:
    """What the tasks made by one literal should use instead of their other characters."""
    wrong = sorted({character for task in bad
                    if (task.task_id_line, task.task_id_column) == where
                    for character in re.sub(allowed, "", task.task_id)})
    return f"use {also}'-' for {' and '.join(repr(character) for character in wrong)}"


MOJAP_TASK_ID = re.compile(r"[a-z0-9][a-z0-9-]*")  # mojap's [a-z0-9.-], narrowed by the guide
KUBERNETES_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
POD_NAME_PREFIX = 30  # provider 4.4.0 keeps 30 characters before its 32-character suffix


def mojap_task_id(task_id: str) -> str:
    """The task_id DAG006 suggests for a BasicKubernetesPodOperator."""
    return re.sub(r"[^a-z0-9-]+", "-", task_id.lower()).strip("-") or "task-1"


def _mojap_fix(facts: DagFileFacts, line: int, column: int, task_id: str) -> Fix | None:
    """The refused literal rewritten, when it alone gives the task_id and no other string
    of the file already has the new id (which another task may then have)."""
    site = _literal(facts.source, line, column, "task_id")
    new = mojap_task_id(task_id)
    if site is None or site.value != task_id or any(s.value == new for s in facts.source.strings):
        return None
    return mends.fix(f"set task_id '{task_id}' to '{new}'",
                     mends.string_literal(facts.path, facts.source.digest, site, new))


def _mojap_task_id_message(shown: str, hint: str) -> str:
    return (f"task_id {shown} names the pod (BasicKubernetesPodOperator): use only "
            "lowercase letters, digits and '-', starting with a letter or digit "
            "(mojap-airflow-tools refuses '_', spaces and capitals, the user guide '.'): "
            f"{hint}")


def _rejected_position(facts: DagFileFacts, task_id: str) -> tuple[int, int]:
    """Where the task_id mojap refused is written: the literal in the call, else one bound
    to a name task_id, else any literal with its value, else the task_id keyword."""
    error = facts.import_error
    line = error.line if error else 0
    span = next((call for call in facts.source.calls if call.line == line), None)
    literals = [s for s in facts.source.strings if s.value == task_id]
    inside = [s for s in literals if span and span.line <= s.line <= span.end_line]
    named = [s for s in literals if s.name == "task_id"]
    for found in (inside, named, literals):
        if found:
            return found[0].line, found[0].column
    return facts.source.locate(line, "task_id") or (line, error.column if error else 0)


def _pod_name(facts: DagFileFacts, task: TaskFacts) -> Iterator[Finding]:
    """The pod name provider 4.4.0 makes of name= (already lowercased, other characters
    turned into '-'): with the random suffix, its first 30 characters without trailing
    '-' or '.', then '-' and 32 hexadecimal digits."""
    name = task.pod.get("name")
    if not isinstance(name, str):
        return  # a pod_template_file or full_pod_spec names the pod
    if task.pod.get("random_name_suffix") is False:
        pod_name, shown = name, name
    else:
        prefix = name[:POD_NAME_PREFIX].rstrip("-.")
        pod_name, shown = f"{prefix}-{'0' * 32}", f"{prefix}-<random suffix>"
    if KUBERNETES_NAME.fullmatch(pod_name) and len(pod_name) <= 253:
        return
    fixed = name.strip("-.") or "task-1"
    line, column = facts.source.locate(task.line, "name") or (task.task_id_line,
                                                              task.task_id_column)
    yield Finding(
        f"name= gives task {TASK} the pod name '{shown}', which Kubernetes "
        "refuses: a pod name is lowercase letters, digits and '-', starting and ending with "
        f"a letter or digit; use name='{fixed}'", line, column, task=task.task_id)


def allowed_task_id(task_id: str) -> str:
    """The task_id DAG006 suggests: each run of other characters becomes one "-"."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", task_id).strip("-") or "task-1"


def _task_id_fixes(facts: DagFileFacts) -> dict[int, Fix]:
    """Fixes by id() of the task: only for a literal that makes one task, and a new id
    that no task of the file has and no other fix gives."""
    fixes: dict[int, Fix] = {}
    tasks = facts.read_tasks
    made_at = Counter((task.task_id_line, task.task_id_column) for task in tasks)
    taken = Counter(allowed_task_id(task.task_id) if not TASK_ID.fullmatch(task.task_id)
                    else task.task_id for task in tasks)
    for task in tasks:
        new = allowed_task_id(task.task_id)
        if TASK_ID.fullmatch(task.task_id) or taken[new] != 1 \
                or made_at[(task.task_id_line, task.task_id_column)] != 1:
            continue
        fix = _task_id_fix(facts, task, new)
        if fix is not None:
            fixes[id(task)] = fix
    return fixes


def _task_id_fix(facts: DagFileFacts, task: TaskFacts, new: str) -> Fix | None:
    site = _literal(facts.source, task.task_id_line, task.task_id_column, "task_id")
    if site is None or site.value != task.task_id:  # a task group adds a prefix, say
        return None
    where = f" (the variable {site.variable})" if site.variable else ""
    return mends.fix(f"set task_id '{task.task_id}' to '{new}'{where}",
                     mends.string_literal(facts.path, facts.source.digest, site, new))


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
    if facts.import_error is not None and facts.import_error.kind in SCHEDULE_ERRORS:
        return  # the schedule Airflow refused is DAG001's
    for dag in facts.read_dags:
        problem = _schedule_problem(dag)
        if problem:
            yield Finding(f"schedule of DAG '{dag.dag_id}' {problem}; use {SCHEDULE_HELP}"
                          f"{read_from(dag)}", dag.schedule_line, dag.schedule_column)


def _schedule_problem(dag: DagFacts) -> str | None:
    if dag.schedule_kind in ("none", "timedelta", "unread"):
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
