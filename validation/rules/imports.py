"""Rules for the shared modules in imports/ (ImportsModuleFacts)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from validation.facts import ImportsModuleFacts, RepoFacts
from validation.problems import Finding, Level
from validation.registry import Reads, Subject, rule

# <prefix>_<rest>: the shape of a module name that says which project owns it.
PREFIXED = re.compile(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)+")


@rule("IMP001", "module-prefix", Level.ERROR, Subject.IMPORTS,
      reads=[Reads.PROJECTS])
def module_prefix(module: ImportsModuleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An imports/ module's name is not <project>_<name>: it names no owner at all.

    Why: the user guide asks that a shared module starts with the name of the DAG folder
    that uses it (project_3_constants.py for project_3), so every module has an owner.
    This rule flags names without that shape (constants.py, helpers.py, or a project's
    name alone); a name with the shape whose prefix is no project folder is IMP002.
    Platform modules can be allowed in setup.cfg ([validation] imports_allowlist).

    Bad:

        imports/constants.py

    Good:

        imports/examples_constants.py
    """
    if module.name in repo.settings.imports_allowlist or _owner(module.name, repo):
        return
    if _prefixed(module.name, repo):
        return  # IMP002's case
    yield Finding(
        f"module 'imports/{module.name}.py' is not named <project>_<name>: rename it to "
        f"imports/<project>_{module.name}.py (projects: {_known(repo)})")


@rule("IMP002", "unknown-project", Level.ERROR, Subject.IMPORTS,
      reads=[Reads.PROJECTS])
def unknown_project(module: ImportsModuleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An imports/ module is named <prefix>_<name>, but no project folder is <prefix>.

    Why: the prefix says which project owns the module; a misspelt or deleted project
    leaves it without an owner. Project folders are looked up in every environment
    (environments/*/dags/<project>/). Names with no prefix at all are IMP001.

    Bad:

        imports/exampels_constants.py  # there is no dags/exampels/ folder

    Good:

        imports/examples_constants.py
    """
    name = module.name
    if name in repo.settings.imports_allowlist or _owner(name, repo):
        return
    if not _prefixed(name, repo):
        return  # IMP001's case
    prefix, close = _closest_prefix(name, repo)
    hint = f" (did you mean '{close}'?)" if close else ""
    yield Finding(
        f"module 'imports/{name}.py' starts with '{prefix}_', but there is no project folder "
        f"'{prefix}' in any environment{hint}: name it imports/<project>_<name>.py after the "
        f"project that uses it (projects: {_known(repo)})")


def _prefixed(name: str, repo: RepoFacts) -> bool:
    """The name has the <prefix>_<rest> shape (a project's name alone does not)."""
    return bool(PREFIXED.fullmatch(name)) and name not in _projects(repo)


def _projects(repo: RepoFacts) -> list[str]:
    return sorted(set().union(*repo.projects.values()))


def _owner(name: str, repo: RepoFacts) -> str | None:
    return next((p for p in _projects(repo) if name.startswith(f"{p}_")), None)


def _known(repo: RepoFacts) -> str:
    return ", ".join(_projects(repo)) or "none found"


def _closest_prefix(name: str, repo: RepoFacts) -> tuple[str, str | None]:
    """The prefix of ``name`` closest to a project folder name, and that name (or None)."""
    words = name.split("_")
    best: tuple[float, str, str | None] = (0.0, words[0], None)
    for count in range(1, len(words)):
        prefix = "_".join(words[:count])
        for project in difflib.get_close_matches(prefix, _projects(repo), n=1, cutoff=0.75):
            ratio = difflib.SequenceMatcher(None, prefix, project).ratio()
            if ratio > best[0]:
                best = (ratio, prefix, project)
    return best[1], best[2]


@rule("IMP003", "import-error", Level.ERROR, Subject.IMPORTS)
def import_error(module: ImportsModuleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The module fails to import, hangs or exits.

    Why: every DAG that imports it fails too.

    Bad:

        # imports/examples_constants.py
        from imports.examples_missing import BUCKET

    Good:

        # imports/examples_constants.py
        BUCKET = "alpha-examples"
    """
    error = module.import_error or module.crash
    if error is not None:
        yield Finding(error.message, error.line, error.column)


@rule("IMP004", "defines-dag", Level.ERROR, Subject.IMPORTS)
def defines_dag(module: ImportsModuleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An imports/ module creates a DAG when it is imported.

    Why: every DAG file that imports the module would create that DAG again (Airflow
    then sees it in several files, under the wrong name); DAGs belong in
    environments/<env>/dags/<project>/<file>.py, one per file.

    Bad:

        # imports/examples_helpers.py
        dag = DAG(dag_id="examples.helper", ...)

    Good:

        # imports/examples_helpers.py: constants and functions only
        def make_env_vars(text): ...
    """
    for dag in module.defines_dags:
        yield Finding(
            f"the module creates DAG '{dag.dag_id}': move it to its own DAG file "
            "environments/<env>/dags/<project>/<file>.py and keep only constants and "
            "functions in imports/", dag.line, dag.column)
