"""Task role rules: the IAM role each task of a DAG file runs with (DagFileFacts).

A role must exist in the DAG's own environment, belong to it, be well formed and belong
to the DAG's project. Every task is checked; tasks with the same problem at the same place
(made in a loop, or by one helper call) become one problem (run/checks.py).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from validation.facts import DagFileFacts, RepoFacts, TaskFacts
from validation.problems import TASK, Finding, Level
from validation.registry import Reads, Subject, rule
from validation.rules.dags import read_from

ROLE_NAME = re.compile(r"[a-z0-9_]+")


@rule("DAG007", "role-missing", Level.ERROR, Subject.DAG,
      reads=[Reads.ROLES])
def role_missing(facts: DagFileFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A task uses a role that has no role file in the DAG's environment.

    Why: the deployment creates an IAM role only for each file in
    environments/<env>/roles/; a task whose role does not exist fails when it runs. The
    message names a file of that name ending .yml or .json, or one in another
    environment's roles/ folder; else it suggests a close name among this environment's
    roles of the DAG's project, never another project's.

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
        yield Finding(
            f"role '{role}' of task {TASK} has no role file "
            f"environments/{facts.env}/roles/{role}.yaml{_missing_role_hint(facts, repo, role)}"
            f"{read_from(task)}", task.role_line, task.role_column, task=task.task_id)


def _missing_role_hint(facts: DagFileFacts, repo: RepoFacts, role: str) -> str:
    """Where the role was written instead: with another extension, in another
    environment's folder, or under a close name of this environment and project."""
    folder = f"environments/{facts.env}/roles/"
    other = [name for name in sorted(repo.role_other_files.get(facts.env, ()))
             if name.rpartition(".")[0] == role]
    if other:
        return (f": {folder}{other[0]} exists, but role files must end .yaml: rename it to "
                f"{role}.yaml")
    elsewhere = [env for env in repo.environments
                 if env != facts.env and role in repo.roles.get(env, ())]
    if elsewhere:
        return (f": environments/{elsewhere[0]}/roles/{role}.yaml exists, in the "
                f"{elsewhere[0]} environment's folder: a {facts.env} DAG's role belongs in "
                f"{folder}")
    project = f"_{_words(facts.project)}_"
    own = sorted(name for name in repo.roles.get(facts.env, ()) if project in f"_{name}_")
    close = difflib.get_close_matches(role, own, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}: add it or use an existing role"


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
                f"role '{role}' of task {TASK} is not a {facts.env} role: a DAG in "
                f"environments/{facts.env} may only use roles named {prefix}<name>"
                f"{read_from(task)}",
                task.role_line, task.role_column, task=task.task_id)


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
                f"role '{role}' of task {TASK} may only use a-z, 0-9 and '_': "
                f"use '{fixed}'{read_from(task)}", task.role_line, task.role_column,
                task=task.task_id)


@rule("DAG021", "role-other-project", Level.WARNING, Subject.DAG,
      reads=[Reads.ROLES])
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
            f"role '{role}' of task {TASK} does not name the project '{facts.project}':"
            f" use a role of this project ({hint}){read_from(task)}", task.role_line,
            task.role_column, task=task.task_id)


def _words(name: str) -> str:
    return name.lower().replace("-", "_")


def _roles(facts: DagFileFacts) -> Iterator[tuple[TaskFacts, str]]:
    """Each task with a role, and its role."""
    for task in facts.read_tasks:
        if task.role is not None:
            yield task, task.role


def _well_formed(role: str, env: str) -> bool:
    return role.startswith(f"airflow_{env}_") and bool(ROLE_NAME.fullmatch(role))
