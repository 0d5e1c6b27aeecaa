"""The pre-commit hooks for real: `pre-commit run --files` in a throwaway git repository
made from the example repository, with this repository's .pre-commit-config.yaml and
.venv/ (nothing is installed, nothing fetched), and the batch-independence pre-commit
relies on."""

from __future__ import annotations

import configparser
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from gitrepos import GIT, GIT_ENV, REPO, commit, edit, example_repo

from validation.config import load_config
from validation.loaders.paths import all_paths
from validation.run.runner import run

pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")
PRE_COMMIT = REPO / ".venv" / "bin" / "pre-commit"
GOOD = "environments/dev/dags/examples/write_to_s3.py"
BAD = "environments/dev/dags/examples/write_to_s3_again.py"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = example_repo(tmp_path / "repo", extra=(".pre-commit-config.yaml", ".yamllint"))
    (root / ".venv").symlink_to(REPO / ".venv")  # the hooks run .venv/bin/...
    (root / "validation").symlink_to(REPO / "validation")  # python -m validation
    (root / ".gitignore").write_text(".venv\nvalidation\n")
    commit(root, "hooks")
    return root


def _pre_commit(root: Path, home: Path, *files: str, hook: tuple[str, ...] = ()
                ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never",
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(PRE_COMMIT), "run", *hook, "--files", *files], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _statuses(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Hook name -> Passed / Failed / Skipped, from pre-commit's status lines."""
    lines = [re.fullmatch(r"([\w-]+)\.+(?:\(.*\))?(Passed|Failed|Skipped)", line)
             for line in result.stdout.splitlines()]
    return {line.group(1): line.group(2) for line in lines if line}


def test_the_hook_passes_a_good_dag_and_fails_a_bad_one(repo: Path, tmp_path: Path) -> None:
    edit(repo, GOOD, "Normally you want", "Usually you want")
    good = _pre_commit(repo, tmp_path / "home", GOOD)
    assert good.returncode == 0, good.stdout + good.stderr
    assert _statuses(good) == {"validation": "Passed", "flake8": "Passed", "yamllint": "Skipped"}

    (repo / BAD).write_text((repo / GOOD).read_text())  # a copy keeps the old dag_id
    subprocess.run(["git", "add", BAD], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
    bad = _pre_commit(repo, tmp_path / "home", BAD)
    assert bad.returncode == 1
    assert _statuses(bad) == {"validation": "Failed", "flake8": "Passed", "yamllint": "Skipped"}
    assert (f"{BAD}:29:12: DAG005 [*] [dag-id-convention] dag_id 'examples.write_to_s3' should be "
            "'examples.write_to_s3_again'") in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_the_fix_hook_mends_the_dag_id_and_fails_until_staged(repo: Path,
                                                              tmp_path: Path) -> None:
    (repo / BAD).write_text((repo / GOOD).read_text())  # a copy keeps the old dag_id
    subprocess.run(["git", "add", BAD], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
    manual = ("validation-fix", "--hook-stage", "manual")
    fixed = _pre_commit(repo, tmp_path / "home", BAD, hook=manual)
    assert _statuses(fixed) == {"validation-fix": "Failed"}  # it changed the file
    assert "files were modified by this hook" in fixed.stdout
    assert 'dag_id="examples.write_to_s3_again"' in (repo / BAD).read_text()
    subprocess.run(["git", "add", BAD], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
    again = _pre_commit(repo, tmp_path / "home", BAD, hook=manual)
    assert _statuses(again) == {"validation-fix": "Passed"}, again.stdout
    assert _statuses(_pre_commit(repo, tmp_path / "home", BAD))["validation"] == "Passed"


def test_the_hooks_skip_files_they_do_not_check(repo: Path, tmp_path: Path) -> None:
    (repo / "notes.txt").write_text("not checked\n")
    result = _pre_commit(repo, tmp_path / "home", "notes.txt")
    assert result.returncode == 0
    assert _statuses(result) == dict.fromkeys(("validation", "flake8", "yamllint"), "Skipped")


# -- batches ------------------------------------------------------------------------------

ROLEREPO = Path(__file__).resolve().parent / "fixtures" / "rolerepo"


def test_cross_file_checks_do_not_depend_on_the_batch() -> None:
    """The role repository's cross-file rules (SEC001, ROL016, DAG007...) give the same
    problems whether the files are checked together or in batches."""
    config = load_config(ROLEREPO)
    paths = all_paths(ROLEREPO)
    together = run(ROLEREPO, paths, everything=False, config=config, cwd=ROLEREPO)
    assert {p.rule for p in together.problems} >= {"SEC001", "ROL016"}
    shuffled = random.Random(5).sample(paths, len(paths))
    for size in (1, 4):
        batches = [shuffled[i:i + size] for i in range(0, len(shuffled), size)]
        problems = [problem for batch in batches for problem in
                    run(ROLEREPO, batch, everything=False, config=config, cwd=ROLEREPO).problems]
        assert sorted(problems) == together.problems, f"batches of {size}"


def test_the_flake8_hook_excludes_what_setup_cfg_excludes() -> None:
    """flake8 checks every file it is named, whatever its own excludes; pre-commit names
    them, so the hook's `exclude` must skip each folder setup.cfg's extend-exclude does
    (else `pre-commit run --all-files` fails on tests/hostile/)."""
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg", encoding="utf-8")
    folders = [name.strip() for name in parser["flake8"]["extend-exclude"].split(",")]
    exclude = re.compile(hooks["flake8"]["exclude"])
    assert [name for name in folders if not exclude.search(f"{name}/x.py")] == []
    assert exclude.search("validation/cli.py") is None
