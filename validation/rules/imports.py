"""Rules for the shared modules in imports/ (ImportsModuleFacts)."""

from __future__ import annotations

from collections.abc import Iterator

from validation.facts import ImportsModuleFacts, RepoFacts
from validation.problems import Finding, Level
from validation.registry import Subject, rule


@rule("IMP001", "module-prefix", Level.ERROR, Subject.IMPORTS)
def module_prefix(module: ImportsModuleFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An imports/ module's name does not start with the name of a project folder.

    Why: the user guide asks that a shared module starts with the name of the DAG folder
    that uses it (project_3_constants.py for project_3), so every module has an owner.
    Platform modules can be allowed in setup.cfg ([validation] imports_allowlist).

    Bad:

        imports/constants.py

    Good:

        imports/examples_constants.py
    """
    if module.name in repo.settings.imports_allowlist:
        return
    projects = sorted(set().union(*repo.projects.values()))
    if any(module.name.startswith(f"{project}_") for project in projects):
        return
    known = ", ".join(projects) if projects else "none found"
    yield Finding(
        f"module 'imports/{module.name}.py' does not start with a project folder name: "
        f"rename it to imports/<project>_{module.name}.py (projects: {known})")


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
