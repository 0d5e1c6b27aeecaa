"""An oracle for --changed-since: over generated edits of a small repository, every file
whose --all result changed is selected, and its problems there are those of --all.

One fixture repository (both environments, three projects' worth of DAGs, role files,
READMEs and imports/ modules) is committed once as the tag ``base``; each example resets
the working tree to it, makes 1-4 edits (below), leaves them uncommitted or commits them
on a branch, and then compares three runs of the real command line:

- ``--all`` at ``base`` (once for all examples) and ``--all`` after the edits: the files
  whose problems differ (and the files that appeared) must all be in the selection of
  ``--changed-since base`` (paths_to_check, which the command line uses);
- ``--changed-since base``: each selected file's problems (message, position and fix
  alike) must be exactly those ``--all`` reports on it after the edits.

The DAG files name their roles in the ways the user guide and validation/loaders/
role_users.py read statically: a constant, an f-string of module constants (``ROLE =
f"airflow_dev_{username}_example"``), a helper function's parameter, and a constant of an
imports/ module. Kept out, as dependents.py's docstring says they are not followed: a DAG
file importing another DAG file, and imports spelt at run time other than by a string
``"imports.x"`` (so the generator writes only plain ``from imports.x import ...``).

Coverage: an example *exercises* a ``Reads`` declaration when a file it did not touch
changes its result through a rule that declares it, i.e. a real cross-file dependency
was followed; every ``Reads`` some registered rule declares must be exercised (so a new
cross-file rule's dependency is covered, or this test says which one is not). Explicit
examples cover each one whatever hypothesis draws; hypothesis is derandomized (a fixed
seed), without its database, with a bounded number of examples.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from gitrepos import GIT, commit, git
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from validation.cli import main
from validation.loaders.paths import all_paths
from validation.registry import Reads, all_rules
from validation.routes import route
from validation.vcs.changes import changes_since, paths_to_check

pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")

EXAMPLES = 40  # generated examples, on top of the explicit ones (see the closing note)
ENVS = ("dev", "prod")
PROJECTS = ("alpha", "beta", "gamma")  # gamma has no folder at base: imports/gamma_util.py
STEMS = ("load", "report", "sync", "extra")
STYLES = ("constant", "fstring", "helper", "imports")
WRITES = ("alpha-shared/dev/*", "alpha-shared/prod/*", "alpha-shared/*",
          "alpha-shared/dev/out/*", "alpha-beta-{env}/*")
MODULES = ("imports/alpha_roles.py", "imports/beta_util.py", "imports/gamma_util.py",
           "imports/constants.py", "imports/alpha_more.py")


def role_pool(env: str) -> list[str]:
    """Role names a DAG may be given: existing, missing, misspelt, another env's, and the
    names an iam_role_name gives."""
    other = "prod" if env == "dev" else "dev"
    return [f"airflow_{env}_alpha", f"airflow_{env}_alpha_example", f"airflow_{env}_beta",
            f"airflow_{env}_beta_old", f"airflow_{env}_gamma", f"airflow_{env}_alpha_typo",
            f"airflow_{other}_alpha"]


# -- the repository, as data --------------------------------------------------------------


@dataclass(frozen=True)
class Dag:
    style: str  # how the role is named: one of STYLES
    role: str  # the role; for style "imports", the name of the module's constant
    module: str = "alpha_roles"  # the imports/ module of style "imports"
    dag_id_ok: bool = True
    fails: str = ""  # "raise": fails when imported; "syntax": does not parse
    extra_import: str | None = None  # another imports/ module it imports (DAG018)


@dataclass(frozen=True)
class Role:
    writes: tuple[str, ...]
    iam_name: str | None = None  # None: the file's own name
    pad: int = 0  # comment lines above s3: (moves the write paths' lines)


@dataclass
class State:
    dags: dict[str, Dag]
    roles: dict[str, Role]
    modules: dict[str, dict[str, str]]  # imports/ module -> its constants
    readmes: set[str]
    init: bool = True
    kinds: Counter[str] = field(default_factory=Counter)  # the edits made


def base_state() -> State:
    dev, prod = "environments/dev", "environments/prod"
    return State(
        dags={f"{dev}/dags/alpha/load.py": Dag("constant", "airflow_dev_alpha"),
              f"{dev}/dags/alpha/report.py": Dag("fstring", "airflow_dev_alpha_example"),
              f"{dev}/dags/beta/sync.py": Dag("helper", "airflow_dev_beta"),
              f"{prod}/dags/alpha/load.py": Dag("imports", "PROD_ROLE"),
              # a missing role (DAG007, hinting at airflow_prod_beta), no README (STR006)
              f"{prod}/dags/beta/report.py": Dag("constant", "airflow_prod_beta_typo")},
        roles={f"{dev}/roles/airflow_dev_alpha.yaml": Role(("alpha-shared/dev/*",)),
               f"{dev}/roles/airflow_dev_alpha_example.yaml": Role(("alpha-beta-dev/x/*",)),
               f"{dev}/roles/airflow_dev_beta.yaml": Role(("alpha-beta-dev/*",),
                                                          "airflow_dev_beta_old"),
               f"{prod}/roles/airflow_prod_alpha.yaml": Role(("alpha-shared/prod/*",)),
               f"{prod}/roles/airflow_prod_beta.yaml": Role(("alpha-beta-prod/*",))},
        modules={"imports/alpha_roles.py": {"DEV_ROLE": "airflow_dev_alpha",
                                            "PROD_ROLE": "airflow_prod_alpha",
                                            "SPARE": "airflow_prod_beta"},
                 "imports/beta_util.py": {"VALUE": "beta"},
                 "imports/gamma_util.py": {"VALUE": "gamma"},  # no project gamma: IMP002
                 "imports/constants.py": {"VALUE": "none"}},  # no project named: IMP001
        readmes={f"{dev}/dags/alpha/README.md", f"{dev}/dags/beta/README.md",
                 f"{prod}/dags/alpha/README.md"})


def dag_text(path: str, dag: Dag) -> str:
    where = route(path)
    project, name = where.project, where.name
    lines = ['"""A DAG of the oracle test."""', "from datetime import datetime", "",
             "from airflow.models import DAG",
             "from mojap_airflow_tools.operators import BasicKubernetesPodOperator"]
    if dag.style == "imports":
        lines.append(f"from imports.{dag.module} import {dag.role} as ROLE")
    if dag.extra_import:
        lines.append(f"from imports.{dag.extra_import} import VALUE  # noqa: F401")
    lines.append("")
    if dag.style == "constant":
        lines.append(f'ROLE = "{dag.role}"')
    elif dag.style == "fstring":  # the guide's ROLE = f"airflow_dev_{username}_example"
        prefix, _, rest = dag.role.partition("_")
        env, _, rest = rest.partition("_")
        tail = "_example" if rest.endswith("_example") else ""
        lines += [f'ENV = "{env}"', f'username = "{rest.removesuffix(tail)}"',
                  f'ROLE = f"{prefix}_{{ENV}}_{{username}}{tail}"']
    if dag.fails == "raise":
        lines.append('raise RuntimeError("this DAG fails when imported")')
    dag_id = f"{project}.{name}" if dag.dag_id_ok else f"{name}_wrong"
    lines += ["", "dag = DAG(", f'    dag_id="{dag_id}",',
              f'    default_args={{"owner": "{project}"}},',
              "    start_date=datetime(2022, 1, 1),", "    schedule_interval=None,", ")", ""]
    if dag.style == "helper":
        lines += ["", "def make_task(task_id, role):",
                  "    return BasicKubernetesPodOperator(",
                  '        dag=dag, run_as_user=1234, repo_name="airflow-example",',
                  '        release="v0.0.1", role=role, task_id=task_id,', "    )", "", "",
                  f'task = make_task("task-1", "{dag.role}")']
    else:
        lines += ["task = BasicKubernetesPodOperator(",
                  '    dag=dag, run_as_user=1234, repo_name="airflow-example",',
                  '    release="v0.0.1", role=ROLE, task_id="task-1",', ")"]
    if dag.fails == "syntax":
        lines.append("def broken(:")
    return "\n".join(lines) + "\n"


def role_text(path: str, role: Role) -> str:
    env = route(path).env or "dev"
    name = role.iam_name or route(path).name
    writes = "".join(f"    - {w.format(env=env)}\n" for w in role.writes)
    return (f"iam_role_name: {name}\n" + "# a comment\n" * role.pad
            + f"s3:\n  read_write:\n{writes}")


def module_text(constants: dict[str, str]) -> str:
    return '"""A shared module."""\n' + "".join(f'{k} = "{v}"\n' for k, v in constants.items())


def write(root: Path, path: str, text: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text, encoding="utf-8")


def render(root: Path, state: State) -> None:
    for path, dag in state.dags.items():
        write(root, path, dag_text(path, dag))
    for path, role in state.roles.items():
        write(root, path, role_text(path, role))
    for path, constants in state.modules.items():
        write(root, path, module_text(constants))
    for path in state.readmes:
        write(root, path, f"# {route(path).project}\n")
    if state.init:
        write(root, "imports/__init__.py", '"""The shared modules."""\n')


# -- the edits ----------------------------------------------------------------------------

Edit = tuple[str, int, int, int]  # a kind and three numbers choosing what and how


def pick(options: Any, number: int) -> Any:
    options = sorted(options) if isinstance(options, (set, dict)) else list(options)
    return options[number % len(options)] if options else None


def remove(root: Path, path: str, use_git: bool) -> None:
    """git rm (which removes the folders it empties), or a plain delete."""
    if use_git:
        with contextlib.suppress(subprocess.CalledProcessError):  # untracked: not git's
            git(root, "rm", "-q", "-f", "--", path)
    if (root / path).exists():
        (root / path).unlink()


def move(root: Path, old: str, new: str, use_git: bool) -> None:
    """git mv, or a plain rename."""
    (root / new).parent.mkdir(parents=True, exist_ok=True)
    if use_git:
        with contextlib.suppress(subprocess.CalledProcessError):  # untracked: not git's
            git(root, "mv", "--", old, new)
    if (root / old).exists():
        (root / old).rename(root / new)


def dag_path(env: str, project: str, stem: str) -> str:
    return f"environments/{env}/dags/{project}/{stem}.py"


def role_path(env: str, stem: str) -> str:
    return f"environments/{env}/roles/{stem}.yaml"


def new_dag(env: str, number: int) -> Dag:
    style = pick(STYLES, number)
    if style == "imports":
        return Dag(style, pick(["DEV_ROLE", "PROD_ROLE", "SPARE", "MISSING"], number // 4))
    return Dag(style, pick(role_pool(env), number // 4))


def apply(root: Path, state: State, edit: Edit) -> None:
    """Make one edit on disk and in ``state`` (an edit with nothing to act on does
    nothing)."""
    kind, a, b, c = edit
    state.kinds[kind] += 1
    EDITS[kind](root, state, a, b, c)


def edit_dag_role(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    if path is None:
        return
    dag = state.dags[path]
    if dag.style == "imports":
        role = pick([*sorted(state.modules.get(f"imports/{dag.module}.py", {})), "MISSING"], b)
    else:
        role = pick(role_pool(route(path).env or "dev"), b)
    state.dags[path] = replace(dag, role=role)
    write(root, path, dag_text(path, state.dags[path]))


def edit_dag_style(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    if path is not None:
        state.dags[path] = new_dag(route(path).env or "dev", b)
        write(root, path, dag_text(path, state.dags[path]))


def edit_dag_id(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    if path is not None:
        state.dags[path] = replace(state.dags[path], dag_id_ok=not state.dags[path].dag_id_ok)
        write(root, path, dag_text(path, state.dags[path]))


def edit_dag_fails(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    if path is not None:
        state.dags[path] = replace(state.dags[path], fails=pick(["raise", "syntax", ""], b))
        write(root, path, dag_text(path, state.dags[path]))


def edit_dag_import(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    if path is not None:
        extra = pick([None, "beta_util", "gamma_util", "alpha_more", "constants"], b)
        state.dags[path] = replace(state.dags[path], extra_import=extra)
        write(root, path, dag_text(path, state.dags[path]))


def edit_dag_add(root: Path, state: State, a: int, b: int, c: int) -> None:
    env = pick(ENVS, a)
    path = dag_path(env, pick(PROJECTS, b), pick(STEMS, b // 3))
    if path not in state.dags:
        state.dags[path] = new_dag(env, c)
        write(root, path, dag_text(path, state.dags[path]))


def edit_dag_delete(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    if path is not None:
        del state.dags[path]
        remove(root, path, b % 2 == 0)


def edit_dag_rename(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.dags, a)
    env = route(path).env if path is not None and c % 4 else pick(ENVS, c)
    new = dag_path(env or "dev", pick(PROJECTS, b), pick(STEMS, b // 3))
    if path is None or new in state.dags:
        return
    state.dags[new] = state.dags.pop(path)
    move(root, path, new, c % 2 == 0)
    write(root, new, dag_text(new, state.dags[new]))  # its dag_id follows its new name


def edit_role_add(root: Path, state: State, a: int, b: int, c: int) -> None:
    env = pick(ENVS, a)
    path = role_path(env, pick(role_pool(env)[:-1], b))
    if path not in state.roles:
        state.roles[path] = Role((pick(WRITES, c),))
        write(root, path, role_text(path, state.roles[path]))


def edit_role_delete(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.roles, a)
    if path is not None:
        del state.roles[path]
        remove(root, path, b % 2 == 0)


def edit_role_rename(root: Path, state: State, a: int, b: int, c: int) -> None:
    """Rename a role file, in its env or into the other one (named for either env)."""
    path = pick(state.roles, a)
    env = pick(ENVS, c)
    new = role_path(env, pick(role_pool(pick(ENVS, c // 2)), b))
    if path is None or new in state.roles:
        return
    state.roles[new] = state.roles.pop(path)
    move(root, path, new, c % 2 == 0)


def edit_role_writes(root: Path, state: State, a: int, b: int, c: int) -> None:
    """Change a role's write paths: overlapping the other env's or not, lines moved."""
    path = pick(state.roles, a)
    if path is not None:
        writes = tuple(pick(WRITES, c + i) for i in range(1 + b % 2))
        state.roles[path] = replace(state.roles[path], writes=writes, pad=b // 2 % 3)
        write(root, path, role_text(path, state.roles[path]))


def edit_role_iam_name(root: Path, state: State, a: int, b: int, c: int) -> None:
    path = pick(state.roles, a)
    if path is not None:
        name = pick([None, *role_pool(route(path).env or "dev")], b)
        state.roles[path] = replace(state.roles[path], iam_name=name)
        write(root, path, role_text(path, state.roles[path]))


def edit_readme(root: Path, state: State, a: int, b: int, c: int) -> None:
    """Add or delete a project's README.md (of a folder that may have no DAG yet)."""
    path = f"environments/{pick(ENVS, a)}/dags/{pick(PROJECTS, b)}/README.md"
    if path in state.readmes:
        state.readmes.remove(path)
        remove(root, path, c % 2 == 0)
    else:
        state.readmes.add(path)
        write(root, path, f"# {route(path).project}\n")


def edit_init(root: Path, state: State, a: int, b: int, c: int) -> None:
    state.init = not state.init
    if state.init:
        write(root, "imports/__init__.py", '"""The shared modules."""\n')
    else:
        remove(root, "imports/__init__.py", a % 2 == 0)


def edit_module_constant(root: Path, state: State, a: int, b: int, c: int) -> None:
    """Change (or add) a role constant of an imports/ module."""
    path = pick(state.modules, a)
    if path is not None:
        name = pick(["DEV_ROLE", "PROD_ROLE", "SPARE"], b)
        state.modules[path] = {**state.modules[path],
                               name: pick(role_pool(pick(ENVS, c)), c // 2)}
        write(root, path, module_text(state.modules[path]))


def edit_module_file(root: Path, state: State, a: int, b: int, c: int) -> None:
    """Add, delete or rename an imports/ module."""
    path = pick(MODULES, a)
    if path not in state.modules:
        state.modules[path] = {"VALUE": "new", "DEV_ROLE": "airflow_dev_alpha"}
        write(root, path, module_text(state.modules[path]))
    elif b % 2:
        del state.modules[path]
        remove(root, path, c % 2 == 0)
    else:
        new = pick(MODULES, a + 1 + b // 2)
        if new not in state.modules:
            state.modules[new] = state.modules.pop(path)
            move(root, path, new, c % 2 == 0)


EDITS: dict[str, Callable[[Path, State, int, int, int], None]] = {
    "dag_role": edit_dag_role, "dag_style": edit_dag_style, "dag_id": edit_dag_id,
    "dag_fails": edit_dag_fails, "dag_import": edit_dag_import, "dag_add": edit_dag_add,
    "dag_delete": edit_dag_delete, "dag_rename": edit_dag_rename,
    "role_add": edit_role_add, "role_delete": edit_role_delete,
    "role_rename": edit_role_rename, "role_writes": edit_role_writes,
    "role_iam_name": edit_role_iam_name, "readme": edit_readme, "init": edit_init,
    "module_constant": edit_module_constant, "module_file": edit_module_file,
}
NUMBER = st.integers(min_value=0, max_value=11)  # small: the same few files, often
EDIT_LISTS = st.lists(st.tuples(st.sampled_from(sorted(EDITS)), NUMBER, NUMBER, NUMBER),
                      min_size=1, max_size=4)


# -- running the validator ----------------------------------------------------------------

Problems = dict[str, list[str]]  # path -> its problems (each a JSON object), sorted


def validate(root: Path, *argv: str) -> tuple[Problems, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--root", str(root), "--no-cache", "--format", "json", *argv])
    assert code in (0, 1), (code, argv, out.getvalue())
    document = json.loads(out.getvalue())
    found: dict[str, list[str]] = {}
    for problem in document["problems"]:
        found.setdefault(problem["path"], []).append(json.dumps(problem, sort_keys=True))
    return {path: sorted(items) for path, items in found.items()}, document["summary"]


def checked_paths(root: Path) -> set[str]:
    return {path for path in all_paths(root) if route(path).checked}


@dataclass
class Base:
    root: Path
    problems: Problems
    paths: set[str]
    exercised: Counter[Reads] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    examples: int = 0


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    root = tmp_path_factory.mktemp("oracle") / "repo"
    root.mkdir()
    (root / "setup.cfg").write_text("[validation]\nenvironments = dev, prod\n")
    render(root, base_state())
    git(root, "init", "-q", "-b", "main")
    commit(root, "base")
    git(root, "tag", "base")
    problems, _ = validate(root, "--all")
    yield Base(root, problems, checked_paths(root))


def reset(root: Path) -> None:
    git(root, "reset", "-q", "--hard", "base")
    git(root, "clean", "-q", "-f", "-d", "-x")
    git(root, "checkout", "-q", "-B", "feature", "base")


def check_edits(base: Base, edits: list[Edit], committed: bool) -> None:
    root = base.root
    reset(root)
    state = base_state()
    for one in edits:
        apply(root, state, one)
    if committed:
        git(root, "add", "-A")
        git(root, "commit", "-q", "--no-verify", "--allow-empty", "-m", "the edits")
    after, _ = validate(root, "--all")
    paths = checked_paths(root)
    selected, everything = paths_to_check(root, "base")
    assert not everything
    changes = changes_since(root, "base")
    touched = set(changes.changed) | set(changes.deleted)
    differ = {path for path in paths
              if path not in base.paths or after.get(path) != base.problems.get(path)}
    missed = differ - set(selected)
    assert not missed, f"{edits}: not selected although their result changed: {missed}"
    since, summary = validate(root, "--changed-since", "base")
    assert set(since) <= set(selected), edits
    assert summary["files"] == len(selected), edits
    for path in selected:
        assert since.get(path, []) == after.get(path, []), (edits, path)
    # What cross-file dependency the example exercised: an untouched file whose problems
    # changed through a rule that declares what it reads.
    rules = all_rules()
    for path in differ - touched:
        changed = set(after.get(path, [])) ^ set(base.problems.get(path, []))
        for problem in changed:
            base.exercised.update(rules[json.loads(problem)["rule"]].reads)
    base.kinds.update(state.kinds)
    base.examples += 1


# Each Reads, whatever hypothesis draws: an edit that changes a fact some untouched file's
# result depends on.
ROLES_EDIT = [("role_delete", 0, 0, 0)]  # dev airflow_dev_alpha: alpha/load.py's DAG007
ROLE_WRITES_EDIT = [("role_writes", 0, 0, 2)]  # alpha-shared/*: prod alpha's SEC001
ROLE_USERS_EDIT = [("dag_role", 0, 2, 0)]  # alpha/load.py -> beta: ROL016 on dev alpha
PROJECTS_EDIT = [("dag_add", 0, 2, 0)]  # a gamma project: imports/gamma_util.py's IMP002
READMES_EDIT = [("readme", 0, 0, 0)]  # dev alpha's README goes: STR006 on its DAGs
IMPORTS_INIT_EDIT = [("init", 0, 0, 0)]  # imports/__init__.py goes: STR007 on modules


def test_changed_since_selects_every_changed_result(base: Base) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(edits=EDIT_LISTS, committed=st.booleans())
    @example(edits=ROLES_EDIT, committed=False)
    @example(edits=ROLE_WRITES_EDIT, committed=True)
    @example(edits=ROLE_USERS_EDIT, committed=False)
    @example(edits=PROJECTS_EDIT, committed=True)
    @example(edits=READMES_EDIT, committed=False)
    @example(edits=IMPORTS_INIT_EDIT, committed=True)
    def oracle(edits: list[Edit], committed: bool) -> None:
        check_edits(base, edits, committed)

    oracle()
    declared = {reads for one in all_rules().values() for reads in one.reads}
    assert declared - set(base.exercised) == set(), dict(base.exercised)
    assert set(EDITS) - set(base.kinds) == set(), dict(base.kinds)
    print(f"{base.examples} examples; Reads exercised {dict(base.exercised)}; "
          f"edits {dict(base.kinds)}", file=sys.stderr)
