"""Load DAG files and imports modules into facts, each imported in a process of its own.

This process never imports Airflow and never runs repository code: a zygote does
(supervisor.py and zygote.py), forking one locked-down child per file, each with a
deadline; a file that hangs, dies or exits is blamed (DAG002) and the other files go
on. Here the results are merged with what the file's source says.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from validation.facts import (
    DagFacts,
    DagFileFacts,
    ErrorFacts,
    ImportsModuleFacts,
    LoadSettings,
    SourceFacts,
    TaskFacts,
)
from validation.loaders.files import read_text
from validation.loaders.source import read_source, source_facts
from validation.loaders.source_dags import source_dags

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


# Told, as each file's facts are complete (while the other files are still importing):
# its kind ("dag" or "imports"), repo-relative path and facts.
OnFacts = Callable[[str, str, Any], None]


def load_python_files(
    root: str,
    dag_files: Iterable[DagFileRequest],
    modules: Iterable[tuple[str, str]],
    settings: LoadSettings,
    jobs: int = 0,
    progress: Progress | None = None,
    require_kernel: bool = False,
    on_containment: Callable[[Any], None] | None = None,
) -> tuple[dict[str, DagFileFacts], dict[str, ImportsModuleFacts]]:
    """Facts for DAG files and for ``imports/`` modules ((path, module stem) pairs), keyed
    by repo-relative path, each imported in a child of its own (``jobs`` at a time; 0: one
    per CPU core). With ``require_kernel``, a machine without kernel containment is a
    errors.LoaderError; ``on_containment`` is told how the imports were contained (a
    supervisor.Containment), when there were any."""
    loading = Loading(root, dag_files, modules, settings, jobs, progress, require_kernel)
    return loading.finish(on_containment)


class Loading:
    """DAG files and imports modules on their way in. The zygote is started first, so it
    imports Airflow while this process reads the sources; each file goes to it as soon as
    its source is read (supervisor.Exchange, on a thread), so children import files
    while this process reads the rest and, until ``finish()``, does whatever else the run
    has to do (the runner checks the role files meanwhile). ``stop()`` (``finish()``
    calls it) kills the zygote and its children."""

    def __init__(self, root: str, dag_files: Iterable[DagFileRequest],
                 modules: Iterable[tuple[str, str]], settings: LoadSettings, jobs: int = 0,
                 progress: Progress | None = None, require_kernel: bool = False) -> None:
        from validation.loaders.dag import supervisor
        from validation.loaders.dag.worker import Job

        self.root = os.path.abspath(root)  # children run in a folder of their own
        self.settings, self.progress = settings, progress
        requests, pairs = list(dag_files), list(modules)
        self.zygote: supervisor.Zygote | None = None
        self.exchange: supervisor.Exchange | None = None
        if requests or pairs:
            self.zygote = supervisor.Zygote(self.root, settings, supervisor.worker_count(jobs))
            self.exchange = supervisor.Exchange(self.zygote, allow_weak=not require_kernel)
        self.work: dict[str, Any] = {}  # what is imported: path -> Job
        try:  # each file is handed to the zygote as soon as its source is read
            self.dags, self.texts = _prepare_dag_files(self.root, requests, self._ready)
            self.imports = {path: ImportsModuleFacts(path, name) for path, name in pairs}
            for path in _largest_first(self.root, list(self.imports)):
                module = self.imports[path]
                text = _read(os.path.join(self.root, path))
                if isinstance(text, ErrorFacts) and text.kind == "OSError":  # a FIFO, too large
                    module.import_error = text
                else:
                    self._ready(path, Job(os.path.join(self.root, path), "imports",
                                          f"imports.{module.name}"))
            if self.exchange is not None:
                self.exchange.close()
        except BaseException:
            self.stop()
            raise

    def _ready(self, path: str, job: Any) -> None:
        self.work[path] = job
        if self.exchange is not None:
            self.exchange.add(path, job)

    def finish(self, on_containment: Callable[[Any], None] | None = None,
               on_facts: OnFacts | None = None
               ) -> tuple[dict[str, DagFileFacts], dict[str, ImportsModuleFacts]]:
        """Import the files (``on_containment`` is told how, before any facts) and merge
        what each produced with what its source says; ``on_facts`` is told of each file
        as soon as its facts are complete."""
        try:
            done: set[str] = set()

            def merged(path: str, outcome: Any) -> None:
                facts: DagFileFacts | ImportsModuleFacts
                if path in self.dags:
                    _merge(self.dags[path], outcome, self.root, self.texts[path])
                    kind, facts = "dag", self.dags[path]
                else:
                    module = self.imports[path]
                    module.import_error, module.crash = outcome.import_error, outcome.crash
                    module.defines_dags = outcome.dags
                    _locate_module_dags(self.root, module)
                    kind, facts = "imports", module
                done.add(path)
                if on_facts is not None:
                    on_facts(kind, path, facts)

            if self.work:
                assert self.exchange is not None
                self.exchange.outcomes(self.settings.timeout, self.progress, on_containment,
                                       merged)
            if on_facts is not None:  # the files there was nothing to import of
                for kind, found in (("dag", self.dags), ("imports", self.imports)):
                    for path, facts in found.items():
                        if path not in done:
                            on_facts(kind, path, facts)
            return self.dags, self.imports
        finally:
            self.stop()

    def stop(self) -> None:
        if self.zygote is not None:
            self.zygote.stop()  # the exchange's thread ends with it
            self.zygote = None


def _locate_module_dags(root: str, module: ImportsModuleFacts) -> None:
    """Point each DAG an imports module created at the call in its source (IMP004)."""
    if not module.defines_dags:
        return
    source = _source(read_source(os.path.join(root, module.path)), module.path)
    for dag in module.defines_dags:
        dag.column = source.call_position(dag.line)[1]


def _prepare_dag_files(
    root: str, requests: list[DagFileRequest], ready: Callable[[str, Any], None]
) -> tuple[dict[str, DagFileFacts], dict[str, str]]:
    """Source facts for each DAG file and the text they were read from (what the source
    shows, if the import fails); each file worth importing is told to ``ready`` with its
    job as soon as its source is read, the largest files first."""
    from validation.loaders.dag.worker import Job

    facts: dict[str, DagFileFacts] = {}
    texts: dict[str, str] = {}
    by_path = {request.path: request for request in requests}
    for path in _largest_first(root, list(by_path)):
        request = by_path[path]
        text = _read(os.path.join(root, request.path))
        source = _source(text, request.path)
        file_facts = DagFileFacts(request.path, request.env, request.project, request.name, source)
        if isinstance(text, ErrorFacts):
            file_facts.import_error = text
        elif source.syntax_error is not None:
            file_facts.import_error = source.syntax_error
        else:
            texts[request.path] = text
            ready(request.path, Job(os.path.join(root, request.path), "dag"))
        facts[request.path] = file_facts
    return {request.path: facts[request.path] for request in requests}, texts


def _largest_first(root: str, paths: list[str]) -> list[str]:
    from validation.loaders.dag.supervisor import largest_first

    return largest_first({path: os.path.join(root, path) for path in paths})


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


def _merge(facts: DagFileFacts, outcome: Any, root: str, text: str) -> None:
    """Add what the import produced, pointing each DAG and task at its literal in the
    source; when it failed, what the source shows instead."""
    facts.import_error, facts.crash = outcome.import_error, outcome.crash
    facts.import_seconds = outcome.import_seconds
    facts.imported_modules, facts.warnings = outcome.repo_modules, outcome.warnings
    facts.network = outcome.network
    facts.dags = outcome.dags
    for dag in facts.dags:
        _locate_dag(dag, facts.source)
    if not facts.imported:
        _read_from_source(root, facts, text)
    error = facts.import_error
    if error is None:
        return
    refused = [dag for dag in facts.dags if not dag.registered]
    if error.line == 0 and refused:
        # Raised after the module ran (a cycle, a bad timetable): blame the refused DAG.
        error.line, error.column = refused[0].line, refused[0].column
    if error.kind in SCHEDULE_ERRORS:
        error.line, error.column = _locate_any(facts.source, error.line, SCHEDULE_KEYWORDS)


def _read_from_source(root: str, facts: DagFileFacts, text: str) -> None:
    """The DAGs and tasks the source shows (``text``, the one its source facts were read
    from, so that their positions agree), for a file whose import failed."""
    facts.source_dags, facts.source_tasks = source_dags(
        text, lambda module: read_text(os.path.join(root, module)))
    for dag in facts.source_dags:
        _locate_dag(dag, facts.source)
    _locate_tasks(facts.source_tasks, facts.source)


def _locate_dag(dag: DagFacts, source: SourceFacts) -> None:
    dag.column = source.call_position(dag.line)[1]
    dag.dag_id_line, dag.dag_id_column = _locate_any(source, dag.line, ("dag_id",))
    dag.schedule_line, dag.schedule_column = _locate_any(source, dag.line, SCHEDULE_KEYWORDS)
    _locate_tasks(dag.tasks, source)


def _locate_tasks(tasks: list[TaskFacts], source: SourceFacts) -> None:
    for task in tasks:
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
