"""The part of the DAG loader that runs inside worker processes, with the real Airflow.

A worker imports one file at a time the way Airflow's own parser does
(``DagBag.process_file``) and turns what the import produced into plain records: the
DAGs and tasks it created (with the line of the call that created each), the exception
it raised, and how long it took. Nothing here is imported by a run that loads no DAG.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from validation.facts import DagFacts, ErrorFacts, TaskFacts

ROLE_ANNOTATION = "iam.amazonaws.com/role"
DAGBAG_LOGGER = "airflow.models.dagbag.DagBag"
MAX_MESSAGE = 400  # characters of an exception message kept in a problem
MAX_WARNINGS = 50


@dataclass
class Job:
    """One file for a worker: a DAG file, or an ``imports/`` module."""

    path: str  # absolute
    kind: str  # "dag" or "imports"
    module: str = ""  # for imports modules: the dotted name, e.g. imports.examples_constants


@dataclass
class Outcome:
    """What importing one file produced, as plain data."""

    import_error: ErrorFacts | None = None
    crash: ErrorFacts | None = None
    dags: list[DagFacts] = field(default_factory=list)
    import_seconds: float = 0.0
    warnings: list[tuple[str, str, int]] = field(default_factory=list)  # category, text, line
    repo_modules: list[str] = field(default_factory=list)  # files of the repo it imported
    fatal: bool = False  # the worker must not be reused after this file


# -- set-up, in the parent before workers are forked --------------------------------------


_home: tempfile.TemporaryDirectory[str] | None = None
_root_on_path: str | None = None


def prepare_environment(root: str, timeout: float) -> None:
    """Point Airflow at a throw-away home and quiet it, before it is first imported.

    Airflow 2.4.3 writes airflow.cfg, webserver_config.py and logs/ into AIRFLOW_HOME on
    import; the user's own (~/airflow) must never be touched. The home lives as long as
    this process (Airflow reads it once, at import).
    """
    global _home, _root_on_path
    if _home is None:
        _home = tempfile.TemporaryDirectory(prefix="validation-airflow-")
    os.environ.update({
        "AIRFLOW_HOME": _home.name,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": str(timeout),
        "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(root, "environments"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    })
    sys.dont_write_bytecode = True  # no __pycache__ in the user's repository
    # The root comes first on sys.path, so `from imports.x import y` resolves as on the
    # platform (and not to another root this process validated before).
    if _root_on_path in sys.path:
        sys.path.remove(_root_on_path)
    sys.path.insert(0, root)
    _root_on_path = root


def preload() -> None:
    """Import Airflow and mojap-airflow-tools once; workers forked later share them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import airflow.models  # noqa: F401
        import mojap_airflow_tools.operators  # noqa: F401
        from airflow.providers.cncf.kubernetes.operators import kubernetes_pod  # noqa: F401


# -- inside a worker ----------------------------------------------------------------------


class _Recorder(logging.Handler):
    """Keeps the exceptions Airflow's DagBag logs while it swallows them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


class Instruments:
    """Records, for the file being imported, every DAG and task created and the line that
    created it (the innermost frame of the file on the stack at the time)."""

    def __init__(self) -> None:
        self.path = ""
        self.dags: list[tuple[Any, int]] = []
        self.task_lines: dict[int, int] = {}
        self.recorder = _Recorder()

    def install(self) -> None:
        from airflow.models.dag import DAG

        instruments = self
        original_init, original_add_task = DAG.__init__, DAG.add_task

        def init(dag: Any, *args: Any, **kwargs: Any) -> None:
            original_init(dag, *args, **kwargs)
            instruments.dags.append((dag, instruments.caller_line()))

        def add_task(dag: Any, task: Any) -> None:
            instruments.task_lines.setdefault(id(task), instruments.caller_line())
            original_add_task(dag, task)

        DAG.__init__, DAG.add_task = init, add_task  # type: ignore[method-assign]
        logger = logging.getLogger(DAGBAG_LOGGER)
        logger.addHandler(self.recorder)
        logger.setLevel(logging.ERROR)

    def start(self, path: str) -> None:
        self.path, self.dags, self.task_lines = path, [], {}
        self.recorder.errors.clear()

    def caller_line(self) -> int:
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                return frame.f_lineno or 0
            frame = frame.f_back
        return 0


def silence_output() -> None:
    """Send the worker's stdout and stderr (file descriptors included) to /dev/null: a
    DAG's prints and Airflow's log lines must never reach the report."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def serve(conn: Any, root: str) -> None:
    """A worker's life: import the files the parent sends, one at a time, until told to
    stop or until a file leaves the process in a state not worth trusting."""
    silence_output()
    instruments = Instruments()
    instruments.install()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            break
        if job is None:
            break
        outcome = run(job, instruments, root)
        try:
            conn.send(outcome)
        except Exception as error:  # something in the outcome would not pickle
            conn.send(Outcome(crash=ErrorFacts("lost", f"cannot report the result: {error}"),
                              fatal=True))
        if outcome.fatal:
            break
    os._exit(0)  # skip atexit handlers a DAG may have registered


def run(job: Job, instruments: Instruments, root: str) -> Outcome:
    """Import one file and describe what it produced. Never raises."""
    modules_before, path_before, cwd_before = set(sys.modules), list(sys.path), os.getcwd()
    instruments.start(job.path)
    outcome = Outcome()
    started = time.monotonic()
    clock_before = datetime.now(timezone.utc)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = _import(job, instruments, outcome, root)
            outcome.dags = _describe_dags(instruments, found, clock_before)
    except Exception as error:  # escaped Airflow's own handling: still a parse failure
        outcome.import_error = _error_facts(error, job.path, root)
        caught = []
    except BaseException as error:  # noqa: B902 - SystemExit, KeyboardInterrupt, ...
        outcome.crash = _error_facts(error, job.path, root, kind="exit")
        outcome.fatal = True
        caught = []
    # A file that left threads running could still act later: retire this worker.
    outcome.fatal = outcome.fatal or threading.active_count() > 1
    outcome.import_seconds = time.monotonic() - started
    outcome.warnings = _warnings(caught, job.path)
    outcome.repo_modules = _forget_repo_modules(modules_before, root, job.path)
    sys.path[:] = path_before
    _chdir(cwd_before)
    return outcome


def _import(job: Job, instruments: Instruments, outcome: Outcome, root: str) -> list[Any]:
    if job.kind == "imports":
        return _import_module(job, outcome, root)
    from airflow.exceptions import AirflowTaskTimeout
    from airflow.models import DagBag

    bag = DagBag(dag_folder=os.devnull, include_examples=False, read_dags_from_db=False,
                 collect_dags=False, load_op_links=False)
    found = bag.process_file(job.path, only_if_updated=False, safe_mode=False)
    if bag.import_errors:
        error = instruments.recorder.errors[-1] if instruments.recorder.errors else None
        if isinstance(error, AirflowTaskTimeout):
            outcome.crash = _timeout_facts(error, job.path)
        elif error is not None:
            outcome.import_error = _error_facts(error, job.path, root)
        else:
            last_line = next(iter(bag.import_errors.values())).strip().splitlines()[-1]
            outcome.import_error = ErrorFacts("ImportError", _shorten(last_line))
    return [dag for dag in found if dag.parent_dag is None]


def _import_module(job: Job, outcome: Outcome, root: str) -> list[Any]:
    from airflow.exceptions import AirflowTaskTimeout
    from airflow.utils.timeout import timeout

    try:
        with timeout(_timeout_seconds()):
            importlib.import_module(job.module)
    except AirflowTaskTimeout as error:
        outcome.crash = _timeout_facts(error, job.path)
    except Exception as error:
        outcome.import_error = _error_facts(error, job.path, root)
    return []


def _timeout_seconds() -> float:
    return float(os.environ.get("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "30"))


def _timeout_facts(error: BaseException, path: str) -> ErrorFacts:
    line, column = _position(error, path)
    message = f"importing the file did not finish within {_timeout_seconds():g} s"
    return ErrorFacts("timeout", message, line, column)


def _describe_dags(instruments: Instruments, found: list[Any], clock: datetime) -> list[DagFacts]:
    registered = {id(dag) for dag in found}
    seen: set[int] = set()
    described = []
    for dag, line in instruments.dags:
        if id(dag) in seen or getattr(dag, "parent_dag", None) is not None:
            continue
        seen.add(id(dag))
        described.append(_dag_facts(dag, line, id(dag) in registered, instruments, clock))
    return described


def _dag_facts(dag: Any, line: int, registered: bool, instruments: Instruments,
               clock: datetime) -> DagFacts:
    start = dag.start_date or (dag.default_args or {}).get("start_date")
    kind, value = _schedule(dag)
    facts = DagFacts(
        dag_id=str(dag.dag_id),
        line=line,
        registered=registered,
        start_date=start.isoformat() if isinstance(start, datetime) else None,
        start_date_near_import=_near(start, clock),
        schedule_kind=kind,
        schedule_value=value,
        owner=_plain((dag.default_args or {}).get("owner")),
    )
    facts.tasks = [_task_facts(task, instruments.task_lines.get(id(task), 0)) for task in dag.tasks]
    return facts


def _near(start: Any, clock: datetime) -> bool:
    """A start_date equal (within a minute) to the clock at import was computed at parse time."""
    if not isinstance(start, datetime):
        return False
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return abs(start - clock) < timedelta(minutes=1)


def _schedule(dag: Any) -> tuple[str, str | None]:
    if getattr(dag, "dataset_triggers", None):
        return "datasets", repr(dag.dataset_triggers)
    value = dag.schedule_interval
    if value is None:
        return "none", None
    if isinstance(value, str):
        return "str", value
    if isinstance(value, timedelta):
        return "timedelta", str(value)
    return type(value).__name__, repr(value)


def _task_facts(task: Any, line: int) -> TaskFacts:
    from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import KubernetesPodOperator

    is_pod = isinstance(task, KubernetesPodOperator)
    facts = TaskFacts(task_id=str(task.task_id), operator=type(task).__name__, is_pod=is_pod,
                      line=line)
    if is_pod:
        facts.role, facts.role_source = _role(task)
        facts.pod = _pod_settings(task)
    return facts


def _role(task: Any) -> tuple[str | None, str | None]:
    annotations = task.annotations or {}
    if annotations.get(ROLE_ANNOTATION):
        return str(annotations[ROLE_ANNOTATION]), "annotation"
    account = task.service_account_name
    if account and account != "default":
        return str(account).replace("-", "_"), "service_account"
    return None, None


POD_SETTINGS = (
    "namespace", "image", "service_account_name", "cluster_context", "in_cluster",
    "security_context", "hostnetwork", "tolerations", "affinity", "startup_timeout_seconds",
    "labels", "annotations", "env_vars",
)


def _pod_settings(task: Any) -> dict[str, Any]:
    return {name: _plain(getattr(task, name, None)) for name in POD_SETTINGS}


def _plain(value: Any, depth: int = 0) -> Any:
    """Kubernetes models, dicts and lists of them as plain JSON-able data (the API's
    camelCase field names, as ``ApiClient.sanitize_for_serialization`` gives them)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if depth > 20:
        return repr(value)
    if isinstance(value, (list, tuple, set)):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    attribute_map = getattr(value, "attribute_map", None)  # a kubernetes client model
    if isinstance(attribute_map, dict):
        return {
            api_name: _plain(getattr(value, name), depth + 1)
            for name, api_name in attribute_map.items()
            if getattr(value, name, None) is not None
        }
    return repr(value)


def _error_facts(error: BaseException, path: str, root: str, kind: str = "") -> ErrorFacts:
    line, column = _position(error, path)
    message = _describe(error)
    origin = _origin(error, path, root)
    if origin:
        message += f" (raised at {origin})"
    return ErrorFacts(kind or type(error).__name__, message, line, column)


def _position(error: BaseException, path: str) -> tuple[int, int]:
    if isinstance(error, SyntaxError) and error.filename == path:
        return error.lineno or 0, error.offset or 0
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    if not frames:
        return 0, 0
    deepest = frames[-1]
    column = getattr(deepest, "colno", None)
    return deepest.lineno or 0, (column + 1) if column is not None else 0


def _origin(error: BaseException, path: str, root: str) -> str:
    """Where an exception raised outside the file came from, when that is in the repository."""
    if isinstance(error, SyntaxError) and error.filename and error.filename != path:
        return _relative(error.filename, root, error.lineno)
    frames = traceback.extract_tb(error.__traceback__)
    if frames and frames[-1].filename != path and root and frames[-1].filename.startswith(root):
        return _relative(frames[-1].filename, root, frames[-1].lineno)
    return ""


def _relative(filename: str, root: str, line: int | None) -> str:
    rel = os.path.relpath(filename, root) if root else filename
    return f"{rel}:{line or 0}"


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"sys.exit({error.code!r}) was called"
    text = error.msg if isinstance(error, SyntaxError) else str(error)
    text = " ".join(text.split())
    if not text:
        return f"{type(error).__name__} was raised"
    return _shorten(f"{type(error).__name__}: {text}")


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _warnings(caught: list[warnings.WarningMessage], path: str) -> list[tuple[str, str, int]]:
    found = []
    for warning in caught[:MAX_WARNINGS]:
        line = warning.lineno if warning.filename == path else 0
        found.append((warning.category.__name__, _shorten(str(warning.message)), line))
    return found


def _forget_repo_modules(before: set[str], root: str, path: str) -> list[str]:
    """Unload the repository's modules the file imported, so the next file imports them
    afresh (its result must not depend on what ran before), and name them."""
    imported = []
    for name in set(sys.modules) - before:
        filename = getattr(sys.modules[name], "__file__", None) or ""
        if filename.startswith(root + os.sep):
            del sys.modules[name]
            if filename != path:
                imported.append(os.path.relpath(filename, root).replace(os.sep, "/"))
    return sorted(imported)


def _chdir(path: str) -> None:
    try:
        os.chdir(path)
    except OSError:
        pass
