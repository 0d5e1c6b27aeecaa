"""STR rules and path handling, on real trees of files in tmp_path.

Each case builds a small repository, names one path as a user would, and lists every
problem expected: (rule, a fragment of the message that tells the user what to do).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from validation.facts import PathFacts
from validation.loaders.paths import all_paths, resolve, resolve_all
from validation.loaders.repo import scan_repo
from validation.registry import Subject, all_rules
from validation.routes import Kind, Route
from validation.run.checks import check_facts

ENVIRONMENTS = ("dev", "prod")
CLEAN = (
    "README.md",
    "setup.cfg",
    "validation/__init__.py",
    "environments/dev/dags/project_1/dag.py",
    "environments/dev/dags/project_1/README.md",
    "environments/dev/roles/airflow_dev_project_1.yaml",
    "environments/prod/dags/project_1/dag.py",
    "environments/prod/dags/project_1/README.md",
    "environments/prod/roles/airflow_prod_project_1.yaml",
    "imports/__init__.py",
    "imports/project_1_constants.py",
)
NO_INIT = ("-imports/__init__.py",)
Expected = list[tuple[str, str]]


def case(
    case_id: str, named: str, *expected: tuple[str, str], tree: tuple[str, ...] | None = None
) -> Any:
    """A repository of CLEAN plus ``tree`` (default: the file named; "-name" removes one),
    the path named in it, and every problem expected, in order."""
    return pytest.param(CLEAN + ((named,) if tree is None else tree), named, list(expected),
                        id=case_id)


DAGS = "environments/dev/dags"
CASES = [
    case("misspelt-environments", "environment/dev/dags/x/a.py",
         ("STR001", "'environment/' is not deployed: did you mean environments/dev/dags/x/a.py?")),
    case("misspelt-imports", "import/project_1_x.py",
         ("STR001", "did you mean imports/project_1_x.py?")),
    case("wrong-dags-folder", "environments/dev/dag/x/a.py",
         ("STR001", "did you mean environments/dev/dags/x/a.py?")),
    case("role-subfolder", "environments/dev/roles/sub/r.yaml",
         ("STR001", "roles/ holds only <role>.yaml files, no folders")),
    case("txt-in-project", f"{DAGS}/project_1/notes.txt",
         ("STR001", "a project folder holds only <dag>.py files and a README.md")),
    case("readme-in-dags", f"{DAGS}/README.md",
         ("STR001", "environments/<env>/dags/ holds only project folders")),
    case("readme-in-subfolder", f"{DAGS}/project_1/docs/README.md",
         ("STR001", "project folders have no subfolders")),
    case("file-in-env", "environments/dev/notes.txt",
         ("STR001", "holds only the folders dags/ and roles/")),
    case("file-in-environments", "environments/README.md",
         ("STR001", "environments/ holds only one folder per environment")),
    case("imports-subfolder", "imports/sub/x.py",
         ("STR001", "imports/ holds only __init__.py and <project>_<name>.py modules")),
    case("outside", "../outside.txt", ("STR001", "outside the repository"), tree=()),
    case("unknown-env-and-place", "environments/staging/notes.txt",
         ("STR001", "holds only the folders dags/ and roles/"),
         ("STR002", "unknown environment 'staging': use a configured environment (dev, prod)")),
    case("unknown-env-dag", "environments/staging/dags/p/d.py",
         ("STR002", "unknown environment 'staging': use a configured environment (dev, prod)")),
    case("misspelt-env", "environments/dve/roles/airflow_dev_x.yaml",
         ("STR002", "(did you mean environments/dev/roles/airflow_dev_x.yaml?)")),
    case("env-named-env", "environments/env/dags/project_1/dag.py",
         ("STR002", "(did you mean environments/dev/dags/project_1/dag.py?)")),
    case("dag-in-dags", f"{DAGS}/copy_file_s3.py",
         ("STR003", "e.g. environments/dev/dags/<project>/copy_file_s3.py")),
    case("dag-nested", f"{DAGS}/project_1/helpers/utils.py",
         ("STR003", "move it to environments/dev/dags/project_1/utils.py, or if it is a helper"
                    " module, to imports/project_1_utils.py")),
    case("bad-names", f"{DAGS}/My-Project/copyFile S3.py",
         ("STR004", "DAG file name 'copyFile S3.py' is not lowercase [a-z0-9_]+"),
         ("STR004", "project folder 'My-Project' is not lowercase [a-z0-9_]+ (it becomes part"
                    " of the dag_id and a Python module name): rename it to 'my_project'"),
         tree=(f"{DAGS}/My-Project/copyFile S3.py", f"{DAGS}/My-Project/README.md")),
    case("accented-name", f"{DAGS}/project_1/café.py", ("STR004", "rename it to 'cafe.py'")),
    case("unfixable-name", f"{DAGS}/project_1/日本.py", ("STR004", "use only a-z, 0-9 and _")),
    case("yml-role", "environments/dev/roles/airflow_dev_x.yml",
         ("STR005", "rename it to environments/dev/roles/airflow_dev_x.yaml")),
    case("json-role", "environments/prod/roles/airflow_prod_x.json",
         ("STR005", "rename it to environments/prod/roles/airflow_prod_x.yaml")),
    case("no-readme", f"{DAGS}/project_2/dag.py",
         ("STR006", "add environments/dev/dags/project_2/README.md")),
    case("no-readme-bad-name", f"{DAGS}/Project/dag.py",
         ("STR004", "rename it to 'project'"), ("STR006", "dags/Project/ has no README.md")),
    case("no-imports-init", "imports/project_1_constants.py",
         ("STR007", "add an empty imports/__init__.py"), tree=NO_INIT),
    case("no-imports-init-dag", f"{DAGS}/project_1/dag.py", tree=NO_INIT),
    case("missing-dag", f"{DAGS}/project_1/missing.py",
         ("STR008", "no such file: check the spelling"), tree=()),
    case("missing-everything-else", "environments/staging/dags/Nope/x.py",
         ("STR008", "no such file"), tree=()),
    case("missing-unchecked", "enviroments/dev/dags/project_1/dag.py",
         ("STR008", "no such file"), tree=()),
    case("missing-outside", "../nowhere.py", ("STR008", "no such file"), tree=()),
    case("directory", f"{DAGS}/project_1", ("STR008", "a folder, not a file"), tree=()),
    case("root-directory", ".", ("STR008", "use --all"), tree=()),
    case("directory-named-like-a-dag", "environments/staging/dags/project_2/Odd.py",
         ("STR008", "a folder"), tree=("environments/staging/dags/project_2/Odd.py/x.txt",)),
    case("airflow-local-settings", "airflow_local_settings.py",
         ("STR010", "Airflow imports airflow_local_settings.py into every one of its processes")),
    case("airflow-plugin", "plugins/my_operator.py",
         ("STR010", "Airflow imports every module of plugins/ as a plugin")),
    case("unchecked-settings-elsewhere", "tools/airflow_local_settings.py"),
    case("unchecked-readme", "README.md"),
    case("unchecked-validation", "validation/__init__.py"),
    case("unchecked-odd-name", "tools/My Script.PY"),
] + [case(f"clean-{path}", path) for path in CLEAN]


def make_tree(root: Path, files: tuple[str, ...]) -> None:
    """Create ``files`` under root, except those also listed as "-name"."""
    removed = {name[1:] for name in files if name.startswith("-")}
    for name in sorted(set(files) - removed - {"-" + r for r in removed}):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# test file\n", encoding="utf-8")


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    """An empty repository folder, with a file ``outside.txt`` beside it."""
    (tmp_path / "outside.txt").write_text("not in the repository\n", encoding="utf-8")
    root = tmp_path / "repo"
    root.mkdir()
    return root


def problems_of(root: Path, raw: str, cwd: Path | None = None) -> list[tuple[str, str]]:
    facts = resolve(root, raw, cwd or root)
    repo = scan_repo(root, ENVIRONMENTS)
    return [(p.rule, p.message) for p in check_facts(Subject.PATH, facts.path, facts, repo)]


@pytest.mark.parametrize("files, named, expected", CASES)
def test_structure(repo_root: Path, files: tuple[str, ...], named: str, expected: Expected) -> None:
    make_tree(repo_root, files)
    found = problems_of(repo_root, named)
    assert [rule for rule, _ in found] == [rule for rule, _ in expected], found
    for (_, message), (_, fragment) in zip(found, expected):
        assert fragment in message


def test_every_structure_rule_is_flagged() -> None:
    flagged = {rule for param in CASES for rule, _ in param.values[2]}
    assert flagged == {rule_id for rule_id, rule in all_rules().items()
                       if rule.subject is Subject.PATH}


# -- resolve() -------------------------------------------------------------------------------


def dag_facts(path: str, env: str = "dev", name: str = "dag") -> PathFacts:
    return PathFacts(path, Route(Kind.DAG, env, "project_1", name), True, False)


DEV_DAG = "environments/dev/dags/project_1/dag.py"


@pytest.mark.parametrize(
    "raw, cwd",
    [
        (DEV_DAG, "."),
        ("./" + DEV_DAG, "."),
        ("dags/project_1/dag.py", "environments/dev"),
        ("dag.py", "environments/dev/dags/project_1"),
        ("../project_1/./dag.py", "environments/dev/dags/project_1"),
        ("../../../../" + DEV_DAG, "environments/dev/dags/project_1"),
        ("environments/prod/../dev/dags/project_1/dag.py", "."),
        ("environments/dev/dags/project_1/dag.py/", "."),
    ],
)
def test_resolve_relative(repo_root: Path, raw: str, cwd: str) -> None:
    make_tree(repo_root, CLEAN)
    assert resolve(repo_root, raw, repo_root / cwd) == dag_facts(DEV_DAG)


def test_resolve_absolute(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    absolute = str(repo_root / DEV_DAG)
    assert resolve(repo_root, absolute, Path("/")) == dag_facts(DEV_DAG)
    assert resolve(repo_root, absolute, repo_root / "imports") == dag_facts(DEV_DAG)


def test_resolve_root_named_through_a_symlink(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    link = repo_root.parent / "link"
    link.symlink_to(repo_root, target_is_directory=True)
    assert resolve(link, DEV_DAG, repo_root) == dag_facts(DEV_DAG)
    assert resolve(repo_root, str(link / DEV_DAG), link) == dag_facts(DEV_DAG)
    assert resolve(link, str(link / DEV_DAG), Path("/")) == dag_facts(DEV_DAG)


def test_resolve_outside(repo_root: Path) -> None:
    outside = resolve(repo_root, "../outside.txt", repo_root)
    assert outside == PathFacts("../outside.txt", Route(Kind.UNKNOWN), True, False, False)
    absolute = str(repo_root.parent / "outside.txt")
    assert resolve(repo_root, absolute, repo_root).path == absolute
    assert not resolve(repo_root, "/", repo_root).inside_root


def test_resolve_symlink_escaping_the_root(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    link = repo_root / "environments/dev/dags/project_1/link.py"
    link.symlink_to(repo_root.parent / "outside.txt")
    raw = "environments/dev/dags/project_1/link.py"
    outside = PathFacts(raw, Route(Kind.UNKNOWN), True, False, inside_root=False)
    assert resolve(repo_root, raw, repo_root) == outside
    assert [rule for rule, _ in problems_of(repo_root, raw)] == ["STR001"]


def test_resolve_symlink_inside_the_root_keeps_its_name(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    alias = repo_root / "environments/prod/dags/project_1/alias.py"
    alias.symlink_to(Path("../../../dev/dags/project_1/dag.py"))
    path = "environments/prod/dags/project_1/alias.py"
    assert resolve(repo_root, path, repo_root) == dag_facts(path, "prod", "alias")


def test_resolve_broken_symlink_does_not_exist(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    (repo_root / "imports/gone.py").symlink_to("nowhere.py")
    assert resolve(repo_root, "imports/gone.py", repo_root).exists is False
    assert [rule for rule, _ in problems_of(repo_root, "imports/gone.py")] == ["STR008"]


def test_resolve_missing_and_directory(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    missing = resolve(repo_root, "environments/dev/dags/project_1/nope.py", repo_root)
    assert (missing.exists, missing.is_dir, missing.route.kind) == (False, False, Kind.DAG)
    folder = resolve(repo_root, "environments/dev/dags/project_1", repo_root)
    assert (folder.exists, folder.is_dir, folder.inside_root) == (True, True, True)


@pytest.mark.parametrize(
    "raw", ["environments/dev/dags/p/café au lait.py", "a\x00b", "bad\udcffname", "lone\ud800", ""]
)
def test_resolve_never_raises(repo_root: Path, raw: str) -> None:
    facts = resolve(repo_root, raw, repo_root)
    assert facts.inside_root and not (facts.exists and not facts.is_dir)


def test_resolve_unreadable_folder(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    locked = repo_root / "environments/dev/dags/project_1"
    locked.chmod(0)
    try:
        facts = resolve(repo_root, DEV_DAG, repo_root)
    finally:
        locked.chmod(0o755)
    assert facts.path == DEV_DAG and facts.inside_root
    assert facts.exists is (os.geteuid() == 0)  # root reads it anyway


def test_non_ascii_and_spaces_are_kept(repo_root: Path) -> None:
    path = "environments/dev/dags/projet_été/copy file.py"
    make_tree(repo_root, (path,))
    facts = resolve(repo_root, path, repo_root)
    assert facts == PathFacts(path, Route(Kind.DAG, "dev", "projet_été", "copy file"), True, False)


def test_resolve_all_resolves_each_path_as_resolve_does(repo_root: Path) -> None:
    """--all resolves every file in one call (the root's real location looked up once):
    each answer is the one a call for that path alone gives."""
    make_tree(repo_root, CLEAN)
    (repo_root / "environments/prod/dags/project_1/alias.py").symlink_to(
        Path("../../../dev/dags/project_1/dag.py"))
    (repo_root / "environments/dev/dags/project_1/link.py").symlink_to(
        repo_root.parent / "outside.txt")
    link = repo_root.parent / "link"
    link.symlink_to(repo_root, target_is_directory=True)
    raws = [*all_paths(repo_root), DEV_DAG, "../outside.txt", "/", "", "a\x00b",
            str(link / DEV_DAG), "environments/dev/dags/project_1/nope.py"]
    for root, cwd in ((repo_root, repo_root), (link, repo_root / "imports"), (repo_root, link)):
        assert resolve_all(root, raws, cwd) == [resolve(root, raw, cwd) for raw in raws]
    found = resolve_all(repo_root, raws, repo_root)
    assert [facts.inside_root for facts in found].count(False) == 3  # link.py, outside, /


# -- all_paths() -----------------------------------------------------------------------------


def test_all_paths(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN + (
        "environments/.hidden.py",
        "environments/dev/dags/project_1/.dag.py.swp",
        "environments/dev/.git/config",
        "environments/dev/dags/project_1/__pycache__/dag.cpython-311.pyc",
        "imports/__pycache__/x.pyc",
        "imports/sub/deeper/x.py",
        "environments/staging/notes.txt",
        "other/elsewhere.py",
    ))
    elsewhere = repo_root / "other"
    (repo_root / "environments/dev/dags/linked").symlink_to(elsewhere, target_is_directory=True)
    (repo_root / "imports/project_1_link.py").symlink_to("project_1_constants.py")
    assert all_paths(repo_root) == sorted(
        [p for p in CLEAN if p.startswith(("environments/", "imports/"))]
        + ["environments/staging/notes.txt", "imports/project_1_link.py", "imports/sub/deeper/x.py"]
    )


def test_all_paths_without_the_folders(repo_root: Path) -> None:
    make_tree(repo_root, ("README.md",))
    assert all_paths(repo_root) == []


def test_all_paths_does_not_follow_a_symlinked_top_folder(repo_root: Path) -> None:
    make_tree(repo_root.parent, ("elsewhere/x.py",))
    (repo_root / "imports").symlink_to(repo_root.parent / "elsewhere", target_is_directory=True)
    assert all_paths(repo_root) == []


def test_all_paths_resolve_cleanly(repo_root: Path) -> None:
    make_tree(repo_root, CLEAN)
    assert all(not problems_of(repo_root, path) for path in all_paths(repo_root))
