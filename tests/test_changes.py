"""--changed-since: the files changed since a git ref and the files whose result depends
on them, in real throwaway git repositories (a copy of the example repository)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import GIT, commit, edit, example_repo, git

from validation.cli import main
from validation.vcs.changes import ChangesError, changes_since, paths_to_check
from validation.vcs.dependents import imported_files

pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")

DEV, PROD = "environments/dev", "environments/prod"
DEV_ROLE = f"{DEV}/roles/airflow_dev_examples.yaml"
PROD_ROLE = f"{PROD}/roles/airflow_prod_examples.yaml"
DEV_DAGS = {f"{DEV}/dags/examples/{name}.py" for name in
            ("multiple_tasks", "use_high_memory_node", "use_imports")}  # they use DEV_ROLE


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = example_repo(tmp_path / "repo")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def _selected(root: Path, ref: str = "main") -> set[str]:
    paths, everything = paths_to_check(root, ref)
    assert not everything
    return set(paths)


def test_nothing_changed_selects_nothing(repo: Path) -> None:
    assert _selected(repo) == set()


def test_a_dag_file_whose_roles_stay_the_same(repo: Path) -> None:
    # The roles its tasks use did not change: no role's result (ROL016) can change.
    edit(repo, f"{DEV}/dags/examples/use_imports.py", "Use a shared", "Use one shared")
    assert _selected(repo) == {f"{DEV}/dags/examples/use_imports.py"}


def test_a_dag_that_stops_naming_a_role_rechecks_the_role(repo: Path) -> None:
    path = f"{DEV}/dags/examples/write_to_s3.py"
    edit(repo, path, 'ROLE = "airflow_dev_examples_write_to_s3"', 'ROLE = "airflow_dev_examples"')
    assert _selected(repo) == {path, DEV_ROLE, f"{DEV}/roles/airflow_dev_examples_write_to_s3.yaml"}


def test_a_role_named_but_given_to_no_task_is_not_a_use(repo: Path) -> None:
    # Which roles a DAG uses is read from what its tasks are given, not a text search:
    # neither a bare constant nor a misplaced file (not a DAG) uses the role.
    for path in (f"{DEV}/dags/examples/constant_only.py", f"{DEV}/dags/stray.py"):
        (repo / path).write_text('ROLE = "airflow_dev_examples_write_to_s3"\n')
    assert _selected(repo) == {f"{DEV}/dags/examples/constant_only.py", f"{DEV}/dags/stray.py"}


def test_an_imports_module_rechecks_the_dags_importing_it(repo: Path) -> None:
    edit(repo, "imports/examples_constants.py", 'IMAGE_TAG = "v0.0.1"', 'IMAGE_TAG = "v0.0.2"')
    assert _selected(repo) == {"imports/examples_constants.py",
                               f"{DEV}/dags/examples/use_imports.py",
                               f"{PROD}/dags/examples/use_imports.py"}


def test_imports_are_followed_through_other_modules(repo: Path) -> None:
    (repo / "imports/examples_more.py").write_text("from imports.examples_high_memory import *\n")
    (repo / f"{DEV}/dags/examples/multiple_tasks.py").write_text(
        (repo / f"{DEV}/dags/examples/multiple_tasks.py").read_text()
        + "\nfrom imports import examples_more  # noqa\n")
    commit(repo, "a module importing a module")
    git(repo, "branch", "-q", "-f", "main")
    edit(repo, "imports/examples_high_memory.py", '"""', '"""Edited. ')
    assert _selected(repo) == {"imports/examples_high_memory.py", "imports/examples_more.py",
                               f"{DEV}/dags/examples/multiple_tasks.py",
                               f"{DEV}/dags/examples/use_high_memory_node.py",
                               f"{PROD}/dags/examples/use_high_memory_node.py"}


def test_imports_init_rechecks_every_module_and_importer(repo: Path) -> None:
    (repo / "imports/__init__.py").write_text("# the shared modules\n")
    selected = _selected(repo)
    assert {"imports/__init__.py", "imports/examples_constants.py",
            "imports/examples_high_memory.py", f"{PROD}/dags/examples/use_imports.py"} <= selected
    assert f"{DEV}/dags/examples/write_to_s3.py" not in selected  # imports nothing from imports


def test_a_role_edited_in_place_rechecks_no_dag(repo: Path) -> None:
    # DAG007 and DAG021 read which role files exist (Reads.ROLES), not what they grant.
    edit(repo, DEV_ROLE, "multiple_tasks/*", "multiple_tasks/out/*")
    assert _selected(repo) == {DEV_ROLE}


def test_a_new_role_rechecks_the_dags_using_it(repo: Path) -> None:
    new = f"{DEV}/roles/airflow_dev_examples_new.yaml"
    (repo / new).write_text("s3:\n  read_only:\n    - alpha-airflow-examples-dev/new/*\n")
    edit(repo, f"{DEV}/dags/examples/write_to_s3.py", 'ROLE = "airflow_dev_examples_write_to_s3"',
         'ROLE = "airflow_dev_examples_new"')
    edit(repo, f"{DEV}/dags/examples/use_imports.py", "Use a shared", "Use one shared")
    commit(repo, "a DAG using a role that is not there yet")
    git(repo, "rm", "-q", new)
    commit(repo, "the role goes")
    git(repo, "branch", "-q", "-f", "main")
    (repo / new).write_text("s3:\n  read_only:\n    - alpha-airflow-examples-dev/new/*\n")
    assert _selected(repo) == {new, f"{DEV}/dags/examples/write_to_s3.py"}


def test_a_role_file_written_yml_or_in_the_other_env_rechecks_its_users(repo: Path) -> None:
    # DAG007's hint names such a file, so its coming or going changes the DAG's result.
    path = f"{DEV}/dags/examples/write_to_s3.py"
    edit(repo, path, 'ROLE = "airflow_dev_examples_write_to_s3"',
         'ROLE = "airflow_dev_examples_new"')
    commit(repo, "a DAG using a role that is not there")
    git(repo, "branch", "-q", "-f", "main")
    yml, prod = f"{DEV}/roles/airflow_dev_examples_new.yml", \
        f"{PROD}/roles/airflow_dev_examples_new.yaml"
    for new in (yml, prod):
        (repo / new).write_text("s3:\n  read_only:\n    - alpha-airflow-examples-dev/new/*\n")
        assert path in _selected(repo), new
        (repo / new).unlink()


def test_a_role_rechecks_the_other_envs_roles_its_writes_overlap(repo: Path) -> None:
    edit(repo, DEV_ROLE, "    - alpha-airflow-examples-dev/use_imports/*",
         "    - alpha-airflow-examples-dev/use_imports/*\n    - alpha-airflow-examples-prod/*")
    assert _selected(repo) == {DEV_ROLE, PROD_ROLE,
                               f"{PROD}/roles/airflow_prod_examples_write_to_s3.yaml"}


def test_a_new_role_rechecks_the_dags_missing_a_role(repo: Path) -> None:
    # DAG007 hints at the closest existing role: any role appearing may change the hint.
    edit(repo, f"{DEV}/dags/examples/write_to_s3.py", 'ROLE = "airflow_dev_examples_write_to_s3"',
         'ROLE = "airflow_dev_examples_typo"')
    commit(repo, "a DAG using a role with no file")
    git(repo, "branch", "-q", "-f", "main")
    new = f"{DEV}/roles/airflow_dev_examples_typos.yaml"
    (repo / new).write_text("s3:\n  read_only:\n    - alpha-airflow-examples-dev/new/*\n")
    assert _selected(repo) == {new, f"{DEV}/dags/examples/write_to_s3.py"}


def test_a_dag_using_another_roles_iam_role_name_rechecks_that_role(repo: Path) -> None:
    # ROL007 offers its fix only while the DAGs use the file's name and not iam_role_name's.
    edit(repo, DEV_ROLE, "iam_role_name: airflow_dev_examples", "iam_role_name: airflow_dev_old")
    commit(repo, "a role whose iam_role_name is not its file's name")
    git(repo, "branch", "-q", "-f", "main")
    path = f"{DEV}/dags/examples/write_to_s3.py"
    edit(repo, path, 'ROLE = "airflow_dev_examples_write_to_s3"', 'ROLE = "airflow_dev_old"')
    assert _selected(repo) == {path, DEV_ROLE, f"{DEV}/roles/airflow_dev_examples_write_to_s3.yaml"}


def test_a_readme_making_a_project_folder_rechecks_its_modules(repo: Path) -> None:
    # Any file makes a folder of dags/ a project (IMP002 then knows the module's owner).
    (repo / "imports/gamma_util.py").write_text("VALUE = 1\n")
    commit(repo, "a module of no project")
    git(repo, "branch", "-q", "-f", "main")
    readme = f"{PROD}/dags/gamma/README.md"
    (repo / readme).parent.mkdir()
    (repo / readme).write_text("# gamma\n")
    assert _selected(repo) == {readme, "imports/gamma_util.py"}


def test_a_new_project_rechecks_the_modules_no_project_owns(repo: Path) -> None:
    # IMP001 and IMP002 list the projects there are: a new one changes their message.
    (repo / "imports/constants.py").write_text("VALUE = 1\n")
    commit(repo, "a module named after no project")
    git(repo, "branch", "-q", "-f", "main")
    dag = f"{DEV}/dags/gamma/run.py"
    (repo / dag).parent.mkdir()
    (repo / dag).write_text('"""Nothing yet."""\n')
    assert _selected(repo) == {dag, "imports/constants.py"}


def test_a_deleted_role_is_not_checked_but_its_users_are(repo: Path) -> None:
    (repo / DEV_ROLE).unlink()
    assert _selected(repo) == DEV_DAGS


def test_a_deleted_dag_rechecks_the_roles_it_named(repo: Path) -> None:
    (repo / f"{DEV}/dags/examples/write_to_s3.py").unlink()
    assert _selected(repo) == {f"{DEV}/roles/airflow_dev_examples_write_to_s3.yaml"}


def test_a_readme_rechecks_the_projects_dags(repo: Path) -> None:
    (repo / f"{PROD}/dags/examples/README.md").unlink()
    assert _selected(repo) == {f"{PROD}/dags/examples/{name}.py" for name in
                               ("multiple_tasks", "use_high_memory_node", "use_imports",
                                "write_to_s3")}


def test_untracked_and_renamed_files(repo: Path) -> None:
    (repo / "imports/examples_new.py").write_text("VALUE = 1\n")
    git(repo, "mv", "imports/examples_high_memory.py", "imports/examples_memory.py")
    changes = changes_since(repo, "main")
    assert changes.changed == ("imports/examples_memory.py", "imports/examples_new.py")
    assert changes.deleted == ("imports/examples_high_memory.py",)
    # The DAGs importing the module that went no longer import: their roles cannot be
    # decided, so every role of their environments is checked again (ROL016).
    assert _selected(repo) == {"imports/examples_memory.py", "imports/examples_new.py",
                               f"{DEV}/dags/examples/use_high_memory_node.py",
                               f"{PROD}/dags/examples/use_high_memory_node.py",
                               DEV_ROLE, f"{DEV}/roles/airflow_dev_examples_write_to_s3.yaml",
                               PROD_ROLE, f"{PROD}/roles/airflow_prod_examples_write_to_s3.yaml"}


def test_files_outside_the_layout_are_not_checked(repo: Path) -> None:
    (repo / "README.md").write_text("# pipelines\n")
    (repo / "setup.cfg").write_text((repo / "setup.cfg").read_text() + "\n[isort]\nx = 1\n")
    assert _selected(repo) == set()


@pytest.mark.parametrize("path", ["validation/rules/new.py", "requirements-validation.txt"])
def test_a_change_to_the_validator_checks_everything(repo: Path, path: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text("# changed\n")
    paths, everything = paths_to_check(repo, "main")
    assert everything and DEV_ROLE in paths


def test_a_change_to_the_configuration_checks_everything(repo: Path) -> None:
    edit(repo, "setup.cfg", "[validation]", "[validation]\njobs = 1")
    assert paths_to_check(repo, "main")[1]


def test_only_the_branchs_own_changes_count(repo: Path) -> None:
    """Compared with the merge base: what main did since the branch left it is not ours."""
    git(repo, "checkout", "-q", "main")
    edit(repo, PROD_ROLE, "use_imports/*", "use_imports/out/*")
    commit(repo, "main moves on")
    git(repo, "checkout", "-q", "feature")
    edit(repo, "imports/examples_constants.py", 'IMAGE_TAG = "v0.0.1"', 'IMAGE_TAG = "v0.0.2"')
    commit(repo, "feature")
    assert PROD_ROLE not in _selected(repo)
    assert "imports/examples_constants.py" in _selected(repo)


@pytest.mark.parametrize(("source", "inside", "expected"), [
    ("import imports.a_x", False, {"__init__", "a_x"}),
    ("import imports.a_x as y", False, {"__init__", "a_x"}),
    ("from imports.a_x import y", False, {"__init__", "a_x"}),
    ("from imports import a_x, b_y", False, {"__init__", "a_x", "b_y"}),
    ("from imports import *", False, {"__init__"}),
    ("def f():\n    from imports.a_x import y", False, {"__init__", "a_x"}),
    ("importlib.import_module('imports.a_x')", False, {"__init__", "a_x"}),
    ("from . import a_x", True, {"__init__", "a_x"}),
    ("from .a_x import y", True, {"__init__", "a_x"}),
    ("from . import a_x", False, set()),
    ("import airflow\nfrom datetime import datetime", False, set()),
    ("def broken(:", False, set()),
])
def test_imported_files(source: str, inside: bool, expected: set[str]) -> None:
    files = {"imports/__init__.py" if name == "__init__" else f"imports/{name}.py"
             for name in expected}
    assert imported_files(source, inside_imports=inside) == files


# -- the command line ---------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--root", str(root), "--format", "text", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_reports_a_dag_broken_by_a_deleted_role(repo: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (repo / f"{DEV}/roles/airflow_dev_examples_write_to_s3.yaml").unlink()
    code, out, err = _cli(capsys, repo, "--changed-since", "main")
    assert code == 1, err
    assert f"{DEV}/dags/examples/write_to_s3.py:64:10: DAG007 [role-missing]" in out
    assert out.endswith("in 1 file (DAG007 x1).\n")


def test_cli_nothing_changed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, repo, "--changed-since", "main") == (0, "No problems in 0 files.\n", "")


def test_cli_unknown_ref_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, repo, "--changed-since", "origin/main")
    assert (code, out) == (2, "")
    assert "error: --changed-since: unknown git ref 'origin/main'" in err


def test_cli_outside_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, tmp_path, "--changed-since", "main")
    assert (code, out) == (2, "")
    assert "error: --changed-since: cannot compare with main: " in err
    assert "not a git repository" in err


def test_cli_without_git(repo: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = _cli(capsys, repo, "--changed-since", "main")
    assert (code, out) == (2, "")
    assert "git is not installed (or not on PATH)" in err


def test_cli_shallow_history(repo: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """A ref with no common history with HEAD (as in a shallow clone) is a usage error."""
    git(repo, "checkout", "-q", "--orphan", "other")
    commit(repo, "unrelated")
    code, _, err = _cli(capsys, repo, "--changed-since", "main")
    assert code == 2 and "no common history" in err


def test_a_ref_like_an_option_is_refused(repo: Path) -> None:
    with pytest.raises(ChangesError, match="not a git ref"):
        changes_since(repo, "--output=x")


# -- the user guide's example: a role named by an f-string -------------------------------

GUIDE = Path(__file__).resolve().parent / "fixtures" / "guide"  # the guide's text, exactly
ALICE_DAG = f"{DEV}/dags/alice/copy_file_s3.py"
ALICE_ROLE = f"{DEV}/roles/airflow_dev_alice_example.yaml"
ROLE_LINE = 63  # role=ROLE, where ROLE = f"airflow_dev_{username}_example"


@pytest.fixture()
def guide_repo(tmp_path: Path) -> Path:
    """The example repository with the guide's example as step 3 makes it (the trailing
    comma after env_vars removed, the dag_id fixed), committed on main."""
    root = example_repo(tmp_path / "repo")
    text = (GUIDE / ALICE_DAG).read_text()
    assert text.count("\n},\n") == 1
    text = text.replace("\n},\n", "\n}\n").replace('f"{username}.write_to_s3"',
                                                   'f"{username}.copy_file_s3"')
    (root / ALICE_DAG).parent.mkdir(parents=True)
    (root / ALICE_DAG).write_text(text)
    (root / ALICE_DAG).with_name("README.md").write_text("# alice\n")
    (root / ALICE_ROLE).write_text((GUIDE / ALICE_ROLE).read_text().replace("{username}", "alice"))
    commit(root, "the guide's example")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def test_the_guides_example_is_clean_and_its_role_used(guide_repo: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    code, out, err = _cli(capsys, guide_repo, "--all", "--no-cache")
    assert (code, out) == (0, "No problems in 20 files.\n"), err  # no ROL016 for its role


def test_the_guides_example_with_its_role_deleted(guide_repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (guide_repo / ALICE_ROLE).unlink()
    assert _selected(guide_repo) == {ALICE_DAG}
    code, out, err = _cli(capsys, guide_repo, "--changed-since", "main", "--no-cache")
    assert code == 1, err
    assert out.startswith(f"{ALICE_DAG}:{ROLE_LINE}:10: DAG007 [role-missing] role "
                          "'airflow_dev_alice_example' of task 'task-1' has no role file")
    assert out.endswith("in 1 file (DAG007 x1).\n")


def test_the_guides_example_with_its_role_renamed(guide_repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    renamed = f"{DEV}/roles/airflow_dev_alice_examples.yaml"
    git(guide_repo, "mv", ALICE_ROLE, renamed)
    assert _selected(guide_repo) == {ALICE_DAG, renamed}
    code, out, err = _cli(capsys, guide_repo, "--changed-since", "main", "--no-cache")
    assert code == 1, err
    assert f"{ALICE_DAG}:{ROLE_LINE}:10: DAG007 [role-missing]" in out
    assert f"{renamed}:" in out and "ROL016" in out  # nothing uses the new name


def test_a_new_cross_file_rule_is_followed_from_its_declaration(repo: Path) -> None:
    """No second list: a rule declaring what it reads is followed by --changed-since; where
    nothing narrows who can see the fact, every file of its subject in the env is."""
    from validation.facts import RoleFacts
    from validation.problems import Finding, Level
    from validation.registry import RULES, Reads, Subject, all_rules, rule

    write_to_s3 = f"{DEV}/roles/airflow_dev_examples_write_to_s3.yaml"
    (repo / write_to_s3).unlink()
    assert _selected(repo) == {f"{DEV}/dags/examples/write_to_s3.py"}
    all_rules()

    @rule("ROL998", "reads-the-role-names", Level.WARNING, Subject.ROLE, reads=[Reads.ROLES])
    def reads_role_names(role: RoleFacts, repo: object) -> list[Finding]:
        """A role rule that reads which role files exist."""
        return []

    try:
        assert _selected(repo) == {f"{DEV}/dags/examples/write_to_s3.py", DEV_ROLE}
    finally:
        del RULES["ROL998"]
