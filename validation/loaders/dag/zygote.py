"""The zygote: a fresh interpreter that imports Airflow once and forks a child per file.

The validator starts it (``supervisor.py``) as ``python -I -c BOOTSTRAP``: no inherited
descriptors, a credential-free environment, nothing of the repository importable (the
root is not on ``sys.path``; Airflow gets its own empty home, DAGs and plugins folders),
so an ``airflow_local_settings.py`` or ``plugins/`` in the repository is never imported.
It never had the cache's signing key: it was exec'd, not forked from the validator.

Protocol, one JSON object per line. From the validator on stdin: the Plan, then one job
per file, then end of file. To the validator on stdout: ``{"hello": layers}`` once
Airflow is imported, then per job ``{"started": id, "pid": pid}`` and ``{"done": id,
"status": exit code (negative: signal), "size": bytes of result or null, "problem": why
there is no result or null}``, the line followed by that many bytes: what the child wrote,
as it wrote it (framed by its length, it cannot pass for a message of the zygote).

Each child locks itself down (``lockdown.py``) before it runs a line of the file, then
imports the file and writes what it produced (an Outcome, as JSON: ``results.py``) to a
pipe of its own, which the zygote reads with a size cap and passes on as bytes: the
zygote decodes nothing a child wrote.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from validation.facts import LoadSettings

MAX_RESULT_BYTES = 16 * 1024 * 1024  # a child's answer; more is a crash, never read
GRACE_SECONDS = 5.0  # past Airflow's own timeout, before the zygote kills a child
LOCKDOWN_FAILED = 70  # a child's exit status when a required layer could not be put up
# What a child may read besides the repository: Python, its packages and what they load.
SYSTEM_READABLE = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib",
                   "/usr/share/zoneinfo", "/etc/localtime", "/etc/timezone",
                   "/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
                   "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/mime.types")
# Entries of the repository root a child may not read (a checkout's token lives in
# .git/config; the cache is the validator's).
PRIVATE_ROOT_ENTRIES = frozenset({".git", ".validation_cache"})


@dataclass(frozen=True)
class Plan:
    """What the validator tells the zygote: where, how many at a time, and how."""

    root: str
    run_dir: str  # every folder the zygote and its children use is inside it
    jobs: int  # children at a time
    settings: dict[str, Any]  # the run's LoadSettings, through the codec
    parent: int  # the validator's pid
    database: str = ""  # the metadata database file (metadata.py), read-only; "": none


_decoded: list[LoadSettings] = []


def _settings(plan: Plan) -> LoadSettings:
    if not _decoded:
        from validation.cache import codec

        settings = codec.decode(plan.settings, LoadSettings)
        assert isinstance(settings, LoadSettings)
        _decoded.append(settings)
    return _decoded[0]


# The zygote's own DAG file, imported once before any child is forked: Airflow and the
# kubernetes client initialise much lazily on a first DAG (providers, operator links,
# pod models), which every child would otherwise redo (about 50 ms each).
WARM_UP_DAG = """
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

dag = DAG(dag_id="zygote.warm_up", default_args={"owner": "zygote"},
          start_date=datetime(2022, 1, 1), schedule_interval="@daily", catchup=False)
for number in range(3):
    task = BasicKubernetesPodOperator(
        dag=dag, task_id=f"task-{number}", repo_name="zygote", release="v1.0.0",
        role="airflow_dev_zygote", env_vars={"NUMBER": str(number)})
"""


@dataclass
class _Child:
    id: int
    pid: int
    pipe: int
    folder: str
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    problem: str | None = None


def main() -> None:
    """The zygote's life: never raises, always ends with os._exit."""
    _die_with(int(sys.argv[1]))
    try:
        plan = Plan(**json.loads(sys.stdin.buffer.readline()))
        _prepare(plan)
        _serve(plan)
    except BaseException as error:  # noqa: B902 - tell the validator, whatever it was
        _send({"fatal": f"{type(error).__name__}: {error}"[:2000]})
        os._exit(1)
    os._exit(0)


def _die_with(parent: int) -> None:
    """PR_SET_PDEATHSIG: the zygote dies with the validator, even by SIGKILL."""
    from validation.loaders.dag import lockdown

    if sys.platform.startswith("linux"):
        lockdown._prctl(lockdown.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def airflow_environment(settings: LoadSettings, home: str, database: str = "") -> dict[str, str]:
    """The variables that point Airflow at the zygote's own, empty home, and at the
    metadata database when there is one (validation.loaders.dag.metadata, made by the
    validator before the zygote starts; read-only: children cannot write outside their
    folder anyway, and ``mode=ro`` keeps SQLite from trying to create its journal)."""
    environment = {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(home, "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": os.path.join(home, "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": str(settings.timeout),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    if database:
        environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
            f"sqlite:///file:{database}?mode=ro&uri=true")
    return environment


_readable: list[str] = []


def _prepare(plan: Plan) -> None:
    """Point Airflow at its own folders, import it, and work out what children may read."""
    home = os.path.join(plan.run_dir, "airflow")
    for folder in (home, os.path.join(home, "dags"), os.path.join(home, "plugins")):
        os.makedirs(folder, exist_ok=True)
    os.chdir(plan.run_dir)
    os.environ.update(airflow_environment(_settings(plan), home, plan.database))
    sys.dont_write_bytecode = True  # no __pycache__ in the user's repository
    import gc

    # No collection until the children are forked: importing Airflow makes hundreds of
    # thousands of objects that stay, and each full collection walked them all again
    # (two or three of them, a third of the import: 1.0 s to 0.65 s). What they are is
    # frozen below, so no child walks them either.
    gc.disable()
    from validation.loaders.dag import worker as dag_worker
    from validation.loaders.dag import lockdown

    layers = lockdown.available()
    dag_worker.preload()
    _readable[:] = _readable_paths(plan, home)
    _instruments.append(dag_worker.Instruments())
    _instruments[0].install()
    _warm_up(home, plan)
    lockdown.prepare([*_readable, plan.root, "/dev/null", "/dev/urandom"])
    gc.freeze()  # Airflow's objects are never garbage: no child copies them to walk them
    gc.enable()  # for the children, whose files' objects may be
    from validation.loaders.dag import pages

    pages.collapse_heap()  # a child's fork copies one page-table entry per 2 MiB
    _send({"hello": {"landlock": layers.landlock_abi, "seccomp": layers.seccomp,
                     "reason": layers.reason}})


_instruments: list[Any] = []


def _warm_up(home: str, plan: Plan) -> None:
    """Import WARM_UP_DAG (the validator's own code, never the repository's)."""
    from validation.loaders.dag import worker as dag_worker

    path = os.path.join(home, "warm_up.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(WARM_UP_DAG)
    outcome = dag_worker.run(dag_worker.Job(path, "dag"), _instruments[0], home, _settings(plan))
    from validation.loaders.dag import results

    results.encode(outcome)  # the encoder, built and warm for children


def _readable_paths(plan: Plan, home: str) -> list[str]:
    """Python, its packages, the validator's own package, Airflow's home (read-only) and
    the repository root's entries but the private ones."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, home, *SYSTEM_READABLE,
             *(entry for entry in sys.path if entry)}
    if plan.database:  # the file alone: the signing key lives in the same folder
        paths.add(plan.database)
    paths |= {os.path.realpath(path) for path in list(paths)}
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    paths.add(package)
    private = PRIVATE_ROOT_ENTRIES
    try:
        entries = os.listdir(plan.root)
    except OSError:
        entries = []
    paths |= {os.path.join(plan.root, name) for name in entries if name not in private}
    return sorted(path for path in paths if not _contains(path, plan.root))


def _contains(path: str, root: str) -> bool:
    """Whether granting ``path`` would grant all of the root (its .git among it): the
    root itself, or a folder above it."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    return real_root == real or real_root.startswith(os.path.join(real, ""))


def _send(message: dict[str, Any], payload: bytes = b"") -> None:
    _write(1, (json.dumps(message) + "\n").encode())
    if payload:
        _write(1, payload)


def _serve(plan: Plan) -> None:
    """Fork up to ``plan.jobs`` children at a time, pass their results on, until the
    validator closes stdin and the last child is done."""
    waiting: list[dict[str, Any]] = []
    running: dict[int, _Child] = {}
    stdin_open = True
    while stdin_open or waiting or running:
        while len(running) < plan.jobs and waiting:
            child = _fork(waiting.pop(0), plan)
            running[child.pipe] = child
        timeout = _next_deadline(running)
        watched = list(running) + ([0] if stdin_open else [])
        ready, _, _ = select.select(watched, [], [], timeout)
        if 0 in ready:
            stdin_open = _read_jobs(waiting)
        for pipe in [fd for fd in ready if fd in running]:
            if _read_result(running[pipe]):
                _finish(running.pop(pipe))
        now = time.monotonic()
        for pipe, child in list(running.items()):
            if now >= child.deadline:
                child.problem = "timeout"
                _kill(child.pid)
                _finish(running.pop(pipe))


_pending = bytearray()


def _read_jobs(waiting: list[dict[str, Any]]) -> bool:
    chunk = os.read(0, 65536)
    if not chunk:
        return False
    _pending.extend(chunk)
    while b"\n" in _pending:
        line, _, rest = bytes(_pending).partition(b"\n")
        _pending[:] = rest
        waiting.append(json.loads(line))
    return True


def _next_deadline(running: dict[int, _Child]) -> float | None:
    if not running:
        return None
    return max(0.0, min(child.deadline for child in running.values()) - time.monotonic())


def _read_result(child: _Child) -> bool:
    """Read what the child wrote; True at end of file (or past the cap)."""
    try:
        chunk = os.read(child.pipe, 1024 * 1024)
    except OSError:
        return True
    if not chunk:
        return True
    child.data.extend(chunk)
    if len(child.data) > MAX_RESULT_BYTES:
        child.problem = f"its result is larger than {MAX_RESULT_BYTES // (1024 * 1024)} MB"
        _kill(child.pid)
        return True
    return False


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _finish(child: _Child) -> None:
    """Reap the child, remove its folder, tell the validator."""
    os.close(child.pipe)
    _kill(child.pid)  # its group: whatever it left behind (it cannot fork, but threads)
    _, status = os.waitpid(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    _remove(child.folder)
    result = bytes(child.data) if child.problem is None else None
    _send({"done": child.id, "status": code, "size": None if result is None else len(result),
           "problem": child.problem}, result or b"")


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _fork(job: dict[str, Any], plan: Plan) -> _Child:
    folder = os.path.join(plan.run_dir, f"child-{job['id']}")
    os.mkdir(folder, 0o700)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _child(job, plan, folder, write)
    os.close(write)
    _send({"started": job["id"], "pid": pid})
    timeout = _settings(plan).timeout
    grace = min(GRACE_SECONDS, timeout)
    return _Child(job["id"], pid, read, folder, time.monotonic() + timeout + grace)


def _child(job: dict[str, Any], plan: Plan, folder: str, write: int) -> NoReturn:
    """A child's life: lock down, import the file, write the Outcome, exit."""
    try:
        _locked_child(job, plan, folder, write)
    except BaseException:  # noqa: B902 - nothing of a child may reach the zygote's code
        pass
    os._exit(0)


def _locked_child(job: dict[str, Any], plan: Plan, folder: str, write: int) -> None:
    from validation.loaders.dag import containment, results
    from validation.loaders.dag import worker as dag_worker
    from validation.loaders.dag import lockdown

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    settings = _settings(plan)
    limits = lockdown.Limits(memory_mb=settings.memory_limit_mb,
                             cpu_seconds=int(settings.cpu_limit_seconds + 0.999))
    try:
        lockdown.lock_down(folder, _readable, limits, keep=write, listable=[plan.root])
    except Exception as error:  # a required layer failed: no DAG code runs
        _write(write, json.dumps({"lockdown": str(error)}).encode())
        os._exit(LOCKDOWN_FAILED)
    sys.path.insert(0, plan.root)
    guard = containment.Guard([folder])
    guard.install()
    job_record = dag_worker.Job(job["path"], job["kind"], job.get("module", ""))
    outcome = dag_worker.run(job_record, _instruments[0], plan.root, settings, guard)
    _write(write, results.encode(outcome))


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    main()
