"""STR rules: is every path named in a place the repository layout knows?

Routing (validation.routes) has already decided what kind of file a path is; these rules
turn the odd routes into advice. So that a user sees one clear problem per path: a path
that does not exist or is a folder gets only STR008, a path outside the repository only
STR001, and paths outside environments/ and imports/ (Kind.UNCHECKED) nothing else.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator

from validation.facts import PathFacts, RepoFacts, SuppressionFacts
from validation.problems import Finding, Level
from validation.registry import Reads, Subject, rule
from validation.routes import AIRFLOW_ROOT_FILES, Kind, airflow_imports
from validation.rules import mends

DAG_PLACE = "environments/<env>/dags/<project>/<dag>.py"
GOOD_NAME = re.compile(r"[a-z0-9_]+")
ENV_AREAS = ("dags", "roles")  # the only folders inside environments/<env>/
DEPLOYED = ("environments", "imports")  # top folders; a near miss (environment/) is a typo
DAGS_HINTS = {  # by the number of path segments below environments/<env>/dags/
    1: "environments/<env>/dags/ holds only project folders",
    2: "a project folder holds only <dag>.py files and a README.md",
}


def _placed(facts: PathFacts) -> bool:
    """A file that exists inside the repository: the layout rules apply to it."""
    return facts.exists and not facts.is_dir and facts.inside_root


def _close(word: str, choices: tuple[str, ...] | list[str], cutoff: float = 0.6) -> str | None:
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return matches[0] if matches else None


# -- STR001 -------------------------------------------------------------------------------


def _layout_hint(parts: list[str]) -> str:
    """What belongs where the path is, and the likely intended place."""
    if parts[0] == "imports":
        return "imports/ holds only __init__.py and <project>_<name>.py modules, no folders"
    if len(parts) <= 2:
        return "environments/ holds only one folder per environment"
    area, in_folder = parts[2], len(parts) > 3
    if in_folder and area == "dags":
        return DAGS_HINTS.get(len(parts) - 3, "project folders have no subfolders")
    if in_folder and area == "roles":
        return "environments/<env>/roles/ holds only <role>.yaml files, no folders"
    hint = "environments/<env>/ holds only the folders dags/ and roles/"
    intended = _close(area, ENV_AREAS) if in_folder else None
    if intended:
        hint += f" (did you mean {'/'.join(parts[:2] + [intended] + parts[3:])}?)"
    return hint


@rule("STR001", "unknown-location", Level.ERROR, Subject.PATH)
def unknown_location(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A file under environments/ or imports/ (or a misspelling of them) is in no known place.

    Why: DAGs, READMEs, role files and shared modules are looked for in their own places
    only, so a file anywhere else is never used and is usually there by mistake.

    Bad:

        environments/dev/dag/project_1/dag.py
        environments/dev/roles/team/airflow_dev_team_role.yaml
        environments/dev/dags/project_1/notes.txt
        environment/dev/dags/project_1/dag.py

    Good:

        environments/dev/dags/project_1/dag.py
        environments/dev/roles/airflow_dev_team_role.yaml
        environments/dev/dags/project_1/README.md
    """
    if not facts.exists or facts.is_dir:
        return
    if not facts.inside_root:
        yield Finding(
            f"outside the repository {repo.root} (or a link to a file outside it): only files"
            " inside the repository can be validated"
        )
    elif facts.route.kind is Kind.UNKNOWN:
        hint = _layout_hint(facts.path.split("/"))
        yield Finding(f"not a known place for a file: {hint}")
    elif facts.route.kind is Kind.UNCHECKED:
        top, _, rest = facts.path.partition("/")
        intended = _close(top, DEPLOYED, cutoff=0.8) if rest else None
        if intended and intended != top:
            yield Finding(f"'{top}/' is not deployed: did you mean {intended}/{rest}?")


# -- STR002 -------------------------------------------------------------------------------


@rule("STR002", "unknown-environment", Level.ERROR, Subject.PATH)
def unknown_environment(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """The environment folder of a path is not one of the configured environments.

    Why: each configured environment is deployed to its own Airflow instance; a folder
    under environments/ with any other name (often a typo) belongs to none of them.

    Bad:

        environments/development/dags/project_1/dag.py
        environments/staging/roles/airflow_dev_team_role.yaml

    Good:

        environments/dev/dags/project_1/dag.py
        environments/dev/roles/airflow_dev_team_role.yaml
    """
    env = facts.route.env
    if not _placed(facts) or env is None or env in repo.environments:
        return
    if not facts.path.startswith(f"environments/{env}/"):
        return  # a file directly in environments/: STR001 says what is wrong
    message = f"unknown environment '{env}'"
    intended = _close(env, list(repo.environments))
    if intended:
        rest = facts.path[len(f"environments/{env}/"):]
        message += f" (did you mean environments/{intended}/{rest}?)"
    known = ", ".join(repo.environments) or "none"
    yield Finding(
        f"{message}: use a configured environment ({known}), or add it to the environments"
        " in setup.cfg [validation]"
    )


# -- STR003 -------------------------------------------------------------------------------


@rule("STR003", "dag-depth", Level.ERROR, Subject.PATH)
def dag_depth(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A DAG file sits directly in dags/, or deeper than dags/<project>/.

    Why: the dag_id must be <project folder>.<file name>, which only means something for
    a file directly inside a project folder; helper modules belong in imports/.

    Bad:

        environments/dev/dags/copy_file_s3.py
        environments/dev/dags/project_1/helpers/utils.py

    Good:

        environments/dev/dags/project_1/copy_file_s3.py
        imports/project_1_utils.py
    """
    if not _placed(facts) or facts.route.kind is not Kind.MISPLACED_DAG:
        return
    env, name = facts.route.env, facts.route.name
    parts = facts.path.split("/")
    if len(parts) == 4:
        yield Finding(
            f"DAG file directly in dags/: DAG files go in {DAG_PLACE}; move it into a"
            f" project folder, e.g. environments/{env}/dags/<project>/{name}.py"
        )
        return
    project = parts[3]
    yield Finding(
        f"DAG file nested below its project folder: DAG files go in {DAG_PLACE}; move it"
        f" to environments/{env}/dags/{project}/{name}.py, or if it is a helper module,"
        f" to imports/{project}_{name}.py"
    )


# -- STR004 -------------------------------------------------------------------------------


def _fixed_name(name: str) -> str:
    """The closest lowercase [a-z0-9_]+ name: copyFile-S3 -> copy_file_s3."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    ascii_name = unicodedata.normalize("NFKD", snake).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "_", ascii_name.lower()).strip("_")


def _rename(what: str, name: str, suffix: str) -> Finding:
    fixed = _fixed_name(name)
    advice = f"rename it to '{fixed}{suffix}'" if fixed else "use only a-z, 0-9 and _"
    return Finding(
        f"{what} '{name}{suffix}' is not lowercase [a-z0-9_]+ (it becomes part of the"
        f" dag_id and a Python module name): {advice}"
    )


@rule("STR004", "bad-name", Level.WARNING, Subject.PATH)
def bad_name(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A project folder or DAG file name is not lowercase letters, digits and underscores.

    Why: both names become part of the dag_id (<project>.<dag>) and of a Python module
    name, where capitals, dashes, dots and spaces cause surprises.

    Bad:

        environments/dev/dags/My-Project/copy file.py

    Good:

        environments/dev/dags/my_project/copy_file.py
    """
    route = facts.route
    if not _placed(facts) or route.kind is not Kind.DAG:
        return
    if route.project and not GOOD_NAME.fullmatch(route.project):
        yield _rename("project folder", route.project, "")
    if route.name and not GOOD_NAME.fullmatch(route.name):
        yield _rename("DAG file name", route.name, ".py")


# -- STR005 -------------------------------------------------------------------------------


@rule("STR005", "role-extension", Level.ERROR, Subject.PATH)
def role_extension(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A role file in roles/ ends .yml or .json instead of .yaml.

    Why: role files are recognised by the .yaml extension alone, so a .yml or .json file
    is not taken for a role and the DAGs that use it report a missing role.

    Bad:

        environments/dev/roles/airflow_dev_team_role.yml
        environments/dev/roles/airflow_dev_team_role.json

    Good:

        environments/dev/roles/airflow_dev_team_role.yaml
    """
    route = facts.route
    if not _placed(facts) or route.kind is not Kind.ROLE_EXTENSION:
        return
    yield Finding(
        f"role files must end .yaml: rename it to environments/{route.env}/roles/"
        f"{route.name}.yaml"
    )


# -- STR006 -------------------------------------------------------------------------------


@rule("STR006", "missing-readme", Level.WARNING, Subject.PATH,
      reads=[Reads.READMES])
def missing_readme(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A project folder with DAG files has no README.md (reported on each DAG file).

    Why: the README is where other users learn what the project's DAGs do and who owns
    them; the repository layout gives every project folder one.

    Fix: `--fix` creates the README.md with a heading naming the project, for you to
    fill in.

    Bad:

        environments/dev/dags/project_1/dag.py     (and no README.md beside it)

    Good:

        environments/dev/dags/project_1/dag.py
        environments/dev/dags/project_1/README.md
    """
    route = facts.route
    if not _placed(facts) or route.kind is not Kind.DAG or route.env not in repo.readmes:
        return
    if route.project not in repo.readmes[route.env]:
        folder = f"environments/{route.env}/dags/{route.project}"
        readme = f"{folder}/README.md"
        yield Finding(
            f"project folder {folder}/ has no README.md: add {readme} saying what"
            " its DAGs do and who owns them",
            fix=mends.fix(f"create {readme}", mends.new_file(readme, f"# {route.project}\n")))


# -- STR007 -------------------------------------------------------------------------------


@rule("STR007", "imports-not-package", Level.ERROR, Subject.PATH,
      reads=[Reads.IMPORTS_INIT])
def imports_not_package(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A module in imports/ while imports/ has no __init__.py (reported on each module).

    Why: DAGs import shared modules as imports.<module>; without __init__.py, imports/
    is only a namespace package, which merges with any other "imports" folder on the path.

    Bad:

        imports/project_3_constants.py     (and no imports/__init__.py)

    Good:

        imports/__init__.py
        imports/project_3_constants.py
    """
    if not _placed(facts) or facts.route.kind is not Kind.IMPORTS_MODULE:
        return
    if not repo.imports_has_init:
        yield Finding(
            "imports/ has no __init__.py: add an empty imports/__init__.py so DAGs can use"
            f" 'from imports.{facts.route.name} import ...'"
        )


# -- STR008 -------------------------------------------------------------------------------


@rule("STR008", "missing-path", Level.ERROR, Subject.PATH)
def missing_path(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A path named on the command line does not exist, or is a folder.

    Why: a mistyped path would otherwise pass validation without checking anything.

    Bad:

        python -m validation environments/dev/dags/projet_1/dag.py
        python -m validation environments/dev/dags/project_1

    Good:

        python -m validation environments/dev/dags/project_1/dag.py
        python -m validation --all
    """
    if not facts.exists:
        yield Finding(
            "no such file: check the spelling, and name files relative to the current folder"
            " or in full"
        )
    elif facts.is_dir:
        yield Finding(
            "a folder, not a file: name the files in it, or use --all to validate the whole"
            " repository"
        )


# -- STR010 -------------------------------------------------------------------------------

@rule("STR010", "airflow-root-file", Level.ERROR, Subject.PATH)
def airflow_root_file(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
    """A file at the root that Airflow imports by itself: airflow_local_settings.py, plugins/.

    Why: Airflow imports `airflow_local_settings` (cluster policies) and every module of its
    plugins folder into each of its processes, before and apart from any DAG: code there
    would run with Airflow's own rights in the scheduler, workers and web server. DAGs do
    not deploy it, and the validator never imports it (it keeps the root off `sys.path`
    until a DAG file runs, behind the kernel's lock-down), so nothing checks what it does.
    Shared code belongs in `imports/`; platform settings belong to the platform.

    Bad:

        airflow_local_settings.py
        plugins/my_operator.py

    Good:

        imports/project_1_operators.py
    """
    if not _placed(facts) or not airflow_imports(facts.path):
        return
    what = ("Airflow imports airflow_local_settings.py into every one of its processes "
            "(cluster policies)" if facts.path in AIRFLOW_ROOT_FILES else
            f"Airflow imports every module of {facts.path.split('/', 1)[0]}/ as a plugin")
    yield Finding(f"{what}, apart from any DAG: the validator does not import it and the "
                  "platform does not deploy it; move shared code to imports/")


# -- STR009 -------------------------------------------------------------------------------


@rule("STR009", "unused-suppression", Level.WARNING, Subject.SUPPRESSIONS)
def unused_suppression(facts: SuppressionFacts, repo: RepoFacts) -> Iterator[Finding]:
    """An inline suppression silences nothing, names no rule, or names an unknown rule.

    Why: a suppression outlives the problem it was written for, and then silences the next
    real problem on that line without anyone noticing. Only the rules a suppression names
    are silenced (a bare `# noqa` silences none), so each must still be needed. A rule
    that did not run (not selected, or the file failed to import) is not called unused.

    Bad:

        dag = DAG(dag_id="examples.report", ...)  # noqa: DAG005  (the dag_id is right)
        # validation: disable=ROL041

    Good:

        dag = DAG(dag_id="examples.report", ...)
        # validation: disable=ROL014
    """
    for found, code, reason in facts.unused:
        if reason == "empty":
            yield Finding(f"'{found.text}' names no rule, so it silences nothing: write "
                          "'# validation: disable=RULE' or remove it", found.line, found.column)
        elif reason == "unknown":
            yield Finding(f"'{found.text}' names {code}, which is not a rule "
                          "(python -m validation --list-rules): fix or remove it",
                          found.line, found.column)
        elif reason == "unsuppressible":
            yield Finding(f"'{found.text}': {code} cannot be suppressed inline; turn it off "
                          "with ignore or per_file_ignores in setup.cfg [validation]",
                          found.line, found.column)
        else:
            where = "in this file" if found.whole_file else "on this line"
            yield Finding(f"'{found.text}': {code} reports nothing {where}, so the "
                          f"suppression is not needed: remove {code} from it",
                          found.line, found.column)
