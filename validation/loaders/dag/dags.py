"""Load DAG files and imports modules into facts, in supervised worker processes.

The parent imports Airflow once; workers are forked from it (sharing the import, copy on
write) and each imports many files, one at a time. The parent gives each file a
deadline: a worker that passes it, dies or exits is replaced, its file is blamed
(DAG002) and the other files go on. Airflow is imported only when there is a file to
import.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from validation.facts import (
    DagFacts,
    DagFileFacts,
    ErrorFacts,
    ImportsModuleFacts,
    LoadSettings,
    SourceFacts,
)
from validation.loaders.source import read_source, source_facts

GRACE_SECONDS = 5.0  # at most, past Airflow's own timeout, before the parent kills a worker
# Exceptions Airflow raises for a schedule it cannot parse, and the argument they are about.
SCHEDULE_ERRORS = frozenset({"AirflowTimetableInvalid", "FormatError"})
SCHEDULE_KEYWORDS = ("schedule_interval", "schedule")
# Told, as files are imported: how many are done, of how many, and one being imported.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DagFileRequest:
    path: str  # repo-relative
    env: str
    project: str
    name: str


def load_python_files(
    root: str,
    dag_files: Iterable[DagFileRequest],
    modules: Iterable[tuple[str, str]],
    settings: LoadSettings,
    jobs: int = 0,
    progress: Progress | None = None,
) -> tuple[dict[str, DagFileFacts], dict[str, ImportsModuleFacts]]:
    """Facts for DAG files and for ``imports/`` modules ((path, module stem) pairs), keyed
    by repo-relative path. All are imported in one pool of supervised workers (``jobs``
    of them; 0: one per CPU core)."""
    from validation.loaders.dag.worker import Job

    root = os.path.abspath(root)  # workers run in a folder of their own
    dags, work = _prepare_dag_files(root, dag_files)
    imports = {path: ImportsModuleFacts(path, name) for path, name in modules}
    for path, module in imports.items():
        text = _read(os.path.join(root, path))
        if isinstance(text, ErrorFacts) and text.kind == "OSError":  # a FIFO, too large
            module.import_error = text
        else:
            work[path] = Job(os.path.join(root, path), "imports", f"imports.{module.name}")
    for path, outcome in _run_jobs(root, work, settings, jobs, progress).items():
        if path in dags:
            _merge(dags[path], outcome)
        else:
            module = imports[path]
            module.import_error, module.crash = outcome.import_error, outcome.crash
            module.defines_dags = outcome.dags
            _locate_module_dags(root, module)
    return dags, imports


def _locate_module_dags(root: str, module: ImportsModuleFacts) -> None:
    """Point each DAG an imports module created at the call in its source (IMP004)."""
    if not module.defines_dags:
        return
    source = _source(read_source(os.path.join(root, module.path)), module.path)
    for dag in module.defines_dags:
        dag.column = source.call_position(dag.line)[1]


def _prepare_dag_files(
    root: str, requests: Iterable[DagFileRequest]
) -> tuple[dict[str, DagFileFacts], dict[str, Any]]:
    """Source facts for each DAG file, and a job for each one that is worth importing."""
    from validation.loaders.dag.worker import Job

    facts: dict[str, DagFileFacts] = {}
    jobs: dict[str, Any] = {}
    for request in requests:
        text = _read(os.path.join(root, request.path))
        source = _source(text, request.path)
        file_facts = DagFileFacts(request.path, request.env, request.project, request.name, source)
        if isinstance(text, ErrorFacts):
            file_facts.import_error = text
        elif source.syntax_error is not None:
            file_facts.import_error = source.syntax_error
        else:
            jobs[request.path] = Job(os.path.join(root, request.path), "dag")
        facts[request.path] = file_facts
    return facts, jobs


def _read(path: str) -> str | ErrorFacts:
    """The source of a file to import, or why it cannot be: Airflow cannot import a file
    whose name is not valid UTF-8 (it hashes the name as UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return ErrorFacts("OSError", "the file name is not valid UTF-8: rename it (it becomes "
                          "part of the dag_id and of a Python module name)")
    return read_source(path)


def _source(text: str | ErrorFacts, path: str) -> SourceFacts:
    return SourceFacts() if isinstance(text, ErrorFacts) else source_facts(text, path)


def _merge(facts: DagFileFacts, outcome: Any) -> None:
    """Add what the import produced, pointing each DAG and task at its literal in the source."""
    facts.import_error, facts.crash = outcome.import_error, outcome.crash
    facts.import_seconds = outcome.import_seconds
    facts.imported_modules, facts.warnings = outcome.repo_modules, outcome.warnings
    facts.network = outcome.network
    facts.dags = outcome.dags
    for dag in facts.dags:
        _locate_dag(dag, facts.source)
    error = facts.import_error
    if error is None:
        return
    refused = [dag for dag in facts.dags if not dag.registered]
    if error.line == 0 and refused:
        # Raised after the module ran (a cycle, a bad timetable): blame the refused DAG.
        error.line, error.column = refused[0].line, refused[0].column
    if error.kind in SCHEDULE_ERRORS:
        error.line, error.column = _locate_any(facts.source, error.line, SCHEDULE_KEYWORDS)


def _locate_dag(dag: DagFacts, source: SourceFacts) -> None:
    dag.column = source.call_position(dag.line)[1]
    dag.dag_id_line, dag.dag_id_column = _locate_any(source, dag.line, ("dag_id",))
    dag.schedule_line, dag.schedule_column = _locate_any(source, dag.line, SCHEDULE_KEYWORDS)
    for task in dag.tasks:
        task.task_id_line, task.task_id_column = _locate_any(source, task.line, ("task_id",))
        task.role_line, task.role_column = _locate_any(
            source, task.line, ("role", "service_account_name", "annotations"))


def _locate_any(source: SourceFacts, line: int, keywords: tuple[str, ...]) -> tuple[int, int]:
    """The first of ``keywords`` given to the call made at ``line``, else the call itself."""
    for keyword in keywords:
        found = source.locate(line, keyword)
        if found:
            return found
    return source.call_position(line)


# -- supervision --------------------------------------------------------------------------


MAX_OUTCOME_BYTES = 64 * 1024 * 1024  # a worker's answer; more is a crash, never read
# What an outcome may be made of: anything else in the stream (a DAG can write to its
# worker's channel) is refused before it is built.
OUTCOME_CLASSES = {"validation.facts": None, "validation.loaders.dag.worker": {"Outcome"}}


class _OutcomeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = OUTCOME_CLASSES.get(module, set())
        if module in OUTCOME_CLASSES and (allowed is None or name in allowed):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of an outcome")


class _Worker:
    """A forked worker process, its temporary folder and the file it is importing.

    The worker is the leader of its own process group: stopping it kills the group, so
    processes the file started go with it."""

    def __init__(self, root: str, settings: LoadSettings) -> None:
        from validation.loaders.dag.worker import serve

        context = multiprocessing.get_context("fork")
        self.folder = tempfile.mkdtemp(prefix="validation-worker-")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, root, settings, self.folder),
                                       daemon=True)
        self.process.start()
        self.pid: int = self.process.pid or 0
        try:
            os.setpgid(self.pid, self.pid)
        except OSError:  # it did so itself already, or is gone
            pass
        child.close()
        self.timeout = settings.timeout
        self.path: str | None = None
        self.deadline = 0.0

    def send(self, path: str, job: Any) -> None:
        grace = min(GRACE_SECONDS, self.timeout)
        self.path, self.deadline = path, time.monotonic() + self.timeout + grace
        self.conn.send(job)

    def receive(self) -> Any:
        data = self.conn.recv_bytes(MAX_OUTCOME_BYTES)
        return _OutcomeUnpickler(io.BytesIO(data)).load()

    def wait(self, seconds: float = 5.0) -> None:
        """Wait for the exit status itself (join() may return early: the worker closed
        the pipes it inherited, its sentinel among them), so no zombie is left."""
        deadline = time.monotonic() + seconds
        while self.process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.wait()
        self.conn.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _run_jobs(root: str, jobs: dict[str, Any], settings: LoadSettings, workers: int,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run every job in supervised workers; an Outcome per path, whatever the files do."""
    if not jobs:
        return {}
    from validation.loaders.dag import worker as dag_worker

    dag_worker.prepare_environment(root, settings.timeout)
    dag_worker.preload()
    # Airflow's objects are never garbage in the workers: freezing them keeps each worker's
    # collector from walking (and so copying) the heap they share with the parent.
    gc.freeze()
    try:
        return _supervise(root, jobs, settings, workers, progress)
    finally:
        gc.unfreeze()


def _supervise(root: str, jobs: dict[str, Any], settings: LoadSettings, workers: int,
               progress: Progress | None = None) -> dict[str, Any]:
    pending = deque(sorted(jobs))
    count = min(workers or os.cpu_count() or 1, len(pending))
    # A slot holds a worker, or None once its worker was retired (forked again on demand).
    slots: list[_Worker | None] = [None] * count
    outcomes: dict[str, Any] = {}
    try:
        while pending or any(worker and worker.path for worker in slots):
            for index, worker in enumerate(slots):
                if (worker is None or worker.path is None) and pending:
                    path = pending.popleft()
                    slots[index] = _dispatch(worker, path, jobs[path], root, settings)
            if progress is not None:
                _report_progress(progress, slots, len(outcomes), len(jobs))
            _collect(slots, outcomes, settings)
    finally:
        for worker in slots:
            if worker is not None:
                worker.stop()
    return outcomes


def _report_progress(progress: Progress, slots: list[_Worker | None], done: int,
                     total: int) -> None:
    busy = sorted(worker.path for worker in slots if worker is not None and worker.path)
    progress(done, total, busy[0] if busy else "")


def _dispatch(worker: _Worker | None, path: str, job: Any, root: str,
              settings: LoadSettings) -> _Worker:
    """Send a file to an idle worker, forking a new one if there is none or if it died
    while idle (a thread a previous file left behind could end it): a file is only ever
    blamed for what happened while it was being imported."""
    if worker is not None and worker.process.is_alive():
        try:
            worker.send(path, job)
            return worker
        except OSError:
            pass
    if worker is not None:
        worker.stop()
    fresh = _Worker(root, settings)
    fresh.send(path, job)
    return fresh


def _collect(slots: list[_Worker | None], outcomes: dict[str, Any],
             settings: LoadSettings) -> None:
    """Wait for the next result or deadline; retire workers that died, hung or exited."""
    busy = [worker for worker in slots if worker is not None and worker.path]
    ready = wait([worker.conn for worker in busy],
                 timeout=max(0.0, min(worker.deadline for worker in busy) - time.monotonic()))
    for index, worker in enumerate(slots):
        if worker is None or worker.path is None:
            continue
        if worker.conn in ready:
            outcome = _receive(worker)
        elif time.monotonic() >= worker.deadline:
            outcome = _lost(ErrorFacts(
                "timeout", f"importing the file did not finish within {settings.timeout:g} s"))
        else:
            continue
        outcomes[worker.path] = outcome
        worker.path = None
        if outcome.fatal:
            worker.stop()
            slots[index] = None


def _receive(worker: _Worker) -> Any:
    from validation.loaders.dag.worker import Outcome

    try:
        outcome = worker.receive()
    except EOFError:  # the worker is gone
        worker.wait()
        return _lost(_exit_facts(worker.process.exitcode))
    except Exception as error:  # too long, or not an outcome (the file wrote to the channel)
        return _lost(ErrorFacts("lost", f"the import's result could not be read: {error}"))
    if not isinstance(outcome, Outcome):
        return _lost(ErrorFacts("lost", "the import's result could not be read: the file "
                                "wrote to the validator's channel"))
    return outcome


def _lost(crash: ErrorFacts) -> Any:
    from validation.loaders.dag.worker import Outcome

    return Outcome(crash=crash, fatal=True)


def _exit_facts(code: int | None) -> ErrorFacts:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if code == -signal.SIGXCPU:
            name += (": it used up its CPU time (cpu_limit_seconds in setup.cfg "
                     "[validation]); keep the top level of the file fast")
        return ErrorFacts("signal", f"the process importing the file was killed by {name}")
    return ErrorFacts("died", f"the process importing the file exited with status {code}"
                      " (os._exit() or a crash in native code)")
