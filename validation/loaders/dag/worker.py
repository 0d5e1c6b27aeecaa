"""The part of the DAG loader that runs in the zygote and its children, with the real Airflow.

A child imports one file the way Airflow's own parser does (``DagBag.process_file``)
and turns what the import produced into plain records: the DAGs and tasks it created
(with the line of the call that created each), the exception it raised, and how long it
took. The validator's process imports this module only for Job and Outcome (Airflow is
imported inside functions that only the zygote and its children call).
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import resource
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import FrameType
from typing import Any

from validation.facts import DagFacts, ErrorFacts, LoadSettings
from validation.loaders.dag import containment
from validation.loaders.dag.airflow_facts import (
    describe_dags,
    error_facts,
    position,
    shorten,
    warning_facts,
)

DAGBAG_LOGGER = "airflow.models.dagbag.DagBag"


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
    network: list[tuple[str, int]] = field(default_factory=list)  # refused (what, line)


# -- set-up, in the zygote before children are forked ------------------------------------


def preload() -> None:
    """Import Airflow and mojap-airflow-tools once; children forked later share them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import airflow.models  # noqa: F401
        import mojap_airflow_tools.operators  # noqa: F401
        from airflow.providers.cncf.kubernetes.operators import kubernetes_pod  # noqa: F401
    skip_unchanged_log_levels()
    remember_cpu_count()
    _preloaded[:] = [frozenset(sys.modules)]


def remember_cpu_count() -> None:
    """Make os.cpu_count() answer, without asking the system again, what it answered here.

    The kubernetes client builds a Configuration for each env var, port, volume ... of a
    pod, and each asks ``multiprocessing.cpu_count()`` for its connection pool's size:
    78,000 times on a 300-file run, two ``openat`` a time (``/sys/devices/system/cpu/online``
    and ``/proc/stat``, which a locked-down child may not read) and a
    ``sched_getaffinity``, about 0.6 s of CPU time in all. The number of CPUs does not
    change while a file is imported; asked once in the zygote, before any lock-down, it is
    the number an unconfined process gets (a locked-down child, refused those files,
    would count only the CPUs it may run on: tests/test_child_environment.py).
    """
    if getattr(os.cpu_count, "remembered", False):
        return
    count = os.cpu_count()

    def cpu_count() -> int | None:
        return count

    cpu_count.remembered = True  # type: ignore[attr-defined]
    os.cpu_count = cpu_count


def skip_unchanged_log_levels() -> None:
    """Make Logger.setLevel a no-op when the level does not change.

    The kubernetes client builds a Configuration for each env var, port, volume ... of a
    pod, and each sets its two loggers to WARNING, which empties the level cache of every
    logger of the process (a few hundred with Airflow): up to a third of the time a DAG
    file of pod tasks takes to import. Setting a level a logger already has changes
    nothing the cache holds, so skipping it is exact.
    """
    original = logging.Logger.setLevel
    if getattr(original, "skips_unchanged", False):
        return

    def set_level(logger: logging.Logger, level: int | str) -> None:
        if isinstance(level, int) and level == logger.level:
            return
        original(logger, level)

    set_level.skips_unchanged = True  # type: ignore[attr-defined]
    logging.Logger.setLevel = set_level  # type: ignore[method-assign, assignment]


# -- inside a child -----------------------------------------------------------------------


class _Recorder(logging.Handler):
    """Keeps the exceptions Airflow's DagBag logs while it swallows them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


class Instruments:
    """Records, for the file being imported, every DAG and task created and the lines that
    created it. A task gets the outermost frame of the file on the stack at the time (the
    module-level statement that led to it: a helper's call, a class's instantiation, a
    loop's body), where its problems are reported, and the innermost (the call that made
    it, inside the helper or class). A DAG gets the innermost: its own DAG(...) call,
    where dag_id= and schedule= are written."""

    def __init__(self) -> None:
        self.path = ""
        self.dags: list[tuple[Any, int]] = []
        self.task_lines: dict[int, tuple[int, int]] = {}  # id(task) -> (outermost, innermost)
        self.recorder = _Recorder()

    def install(self) -> None:
        from airflow.models.dag import DAG

        instruments = self
        original_init, original_add_task = DAG.__init__, DAG.add_task

        def init(dag: Any, *args: Any, **kwargs: Any) -> None:
            original_init(dag, *args, **kwargs)
            instruments.dags.append((dag, instruments.caller_lines()[1]))

        def add_task(dag: Any, task: Any) -> None:
            instruments.task_lines.setdefault(id(task), instruments.caller_lines())
            original_add_task(dag, task)

        DAG.__init__, DAG.add_task = init, add_task  # type: ignore[method-assign, assignment]
        logger = logging.getLogger(DAGBAG_LOGGER)
        logger.addHandler(self.recorder)
        logger.setLevel(logging.ERROR)

    def start(self, path: str) -> None:
        self.path, self.dags, self.task_lines = path, [], {}
        self.recorder.errors.clear()

    def caller_lines(self) -> tuple[int, int]:
        """(outermost, innermost) line of the file being imported on the stack; 0s when
        the file is not on it."""
        frame: FrameType | None = sys._getframe(2)
        outer = inner = 0
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                outer = frame.f_lineno or 0
                inner = inner or outer
            frame = frame.f_back
        return outer, inner


def run(job: Job, instruments: Instruments, root: str, settings: LoadSettings,
        guard: containment.Guard | None = None) -> Outcome:
    """Import one file and describe what it produced. Never raises. The child is thrown
    away afterwards, so nothing the file changed or left running outlives its result
    (the CPU time limit is the child's RLIMIT_CPU, set by its lock-down)."""
    sys.modules[MARK] = _MARKER  # the modules the file imports come after it
    instruments.start(job.path)
    outcome = Outcome()
    started = time.monotonic()
    clock_before = datetime.now(timezone.utc)
    try:
        if guard is not None:
            guard.arm(job.path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = _import(job, instruments, outcome, root, settings.timeout)
            outcome.dags = describe_dags(instruments.dags, found, instruments.task_lines,
                                         clock_before)
    except Exception as error:  # escaped Airflow's own handling: still a parse failure
        if _is_out_of_memory(error):
            _out_of_memory(outcome, error, job.path)
        else:
            outcome.import_error = error_facts(error, job.path, root)
        caught = []
    except containment.CpuLimitExceeded as error:
        _out_of_cpu(outcome, error, job.path, settings.cpu_limit_seconds)
        caught = []
    except BaseException as error:  # noqa: B902 - SystemExit, KeyboardInterrupt, ...
        outcome.crash = error_facts(error, job.path, root, kind="exit")
        caught = []
    finally:
        if guard is not None:
            guard.disarm()
            outcome.network = list(guard.network)
    outcome.import_seconds = time.monotonic() - started
    outcome.warnings = warning_facts(caught, job.path)
    outcome.repo_modules = _repo_modules(_imported(), root, job.path)
    sys.modules.pop(MARK, None)
    return outcome


def _out_of_cpu(outcome: Outcome, error: BaseException, path: str, seconds: float) -> None:
    line, column = position(error, path)
    message = (f"importing the file used more than {seconds:g} s of CPU time: keep the top "
               "level of the file fast, do the work in tasks (the limit is cpu_limit_seconds "
               "in setup.cfg [validation])")
    outcome.crash = ErrorFacts("cpu", message, line, column)


def _import(job: Job, instruments: Instruments, outcome: Outcome, root: str,
            timeout: float) -> list[Any]:
    if job.kind == "imports":
        return _import_module(job, outcome, root, timeout)
    from airflow.exceptions import AirflowTaskTimeout
    from airflow.models import DagBag

    bag = DagBag(dag_folder=os.devnull, include_examples=False, read_dags_from_db=False,
                 collect_dags=False, load_op_links=False)
    found = bag.process_file(job.path, only_if_updated=False, safe_mode=False)
    if bag.import_errors:
        error = instruments.recorder.errors[-1] if instruments.recorder.errors else None
        if isinstance(error, AirflowTaskTimeout):
            outcome.crash = _timeout_facts(error, job.path, timeout)
        elif error is not None and _is_out_of_memory(error):
            _out_of_memory(outcome, error, job.path)
        elif error is not None:
            outcome.import_error = error_facts(error, job.path, root)
        else:
            last_line = next(iter(bag.import_errors.values())).strip().splitlines()[-1]
            outcome.import_error = ErrorFacts("ImportError", shorten(last_line))
    return [dag for dag in found if dag.parent_dag is None]


def _import_module(job: Job, outcome: Outcome, root: str, seconds: float) -> list[Any]:
    from airflow.exceptions import AirflowTaskTimeout
    from airflow.utils.timeout import timeout

    try:
        with timeout(seconds):
            importlib.import_module(job.module)
    except AirflowTaskTimeout as error:
        outcome.crash = _timeout_facts(error, job.path, seconds)
    except Exception as error:
        if _is_out_of_memory(error):
            _out_of_memory(outcome, error, job.path)
        else:
            outcome.import_error = error_facts(error, job.path, root)
    return []


def _timeout_facts(error: BaseException, path: str, seconds: float) -> ErrorFacts:
    line, column = position(error, path)
    message = f"importing the file did not finish within {seconds:g} s"
    return ErrorFacts("timeout", message, line, column)


def _is_out_of_memory(error: BaseException | None) -> bool:
    """A MemoryError, or an OSError ENOMEM (mmap, fork) under the worker's limit."""
    return isinstance(error, MemoryError) or (
        isinstance(error, OSError) and error.errno == errno.ENOMEM)


def _out_of_memory(outcome: Outcome, error: BaseException, path: str) -> None:
    """A MemoryError under the child's limit is a crash (DAG002)."""
    line, column = position(error, path)
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    size = f" of {limit // (1024 * 1024)} MB" if limit != resource.RLIM_INFINITY else ""
    message = (f"importing the file exhausted the memory limit{size}: build the DAG without "
               "loading large data at the top level of the file (the limit is memory_limit_mb "
               "in setup.cfg [validation])")
    outcome.crash = ErrorFacts("memory", message, line, column)


# A module that run() puts in sys.modules before the import: dicts keep their insertion
# order, so the modules the file imported are those after it. Walking only those, from the
# end, spares a child copying the pages of the zygote's ~2,000 module names (set(
# sys.modules) touches each one's reference count): a quarter of a small file's page faults.
MARK = "validation.loaders.dag.worker:the-file's-imports-follow"
_MARKER = type(sys)(MARK)
_preloaded: list[frozenset[str]] = []  # the names sys.modules had after preload()


def _imported() -> set[str]:
    """The names sys.modules gained since run() put MARK in (if the file took it out, or
    a thread of its imported meanwhile, those it gained since preload())."""
    names: set[str] = set()
    try:
        for name in reversed(sys.modules):
            if name == MARK and sys.modules.get(MARK) is _MARKER:
                return names
            names.add(name)
    except RuntimeError:  # sys.modules changed size: a thread is importing
        pass
    return set(sys.modules) - (_preloaded[0] if _preloaded else frozenset())


def _repo_modules(new: set[str], root: str, path: str) -> list[str]:
    """The repository's files among the modules ``new`` (other than the file itself).
    Installed packages are not the repository's, even in a virtualenv inside it (.venv)."""
    imported = []
    installed = tuple(os.path.join(prefix, "") for prefix in
                      {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.prefix)})
    for name in new:
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None) or ""
        if not filename.startswith(root + os.sep) or filename.startswith(installed):
            continue
        relative = os.path.relpath(filename, root).replace(os.sep, "/")
        if relative.startswith(".") or "/site-packages/" in f"/{relative}":
            continue
        if filename != path:
            imported.append(relative)
    return sorted(imported)
