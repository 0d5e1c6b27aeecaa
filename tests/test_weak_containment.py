"""Without kernel containment the run says so, and under CI=true it fails closed.

"Without" is made real, not mocked: the validator is started under a seccomp filter
that makes the Landlock syscalls answer ENOSYS, as an old kernel or a container that
forbids Landlock does; the zygote inherits it (filters survive exec) and finds no
Landlock.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from validation.loaders.dag import lockdown

REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not lockdown.available().seccomp,
                                reason="needs seccomp to hide Landlock")


def _without_landlock() -> None:
    import pyseccomp

    flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
        flt.add_rule(pyseccomp.ERRNO(errno.ENOSYS), name)
    flt.load()


def _run(tmp_path: Path, *options: str, ci: bool) -> subprocess.CompletedProcess[str]:
    repo = tmp_path / "repo"
    dags = repo / "environments" / "dev" / "dags" / "weak"
    dags.mkdir(parents=True, exist_ok=True)
    (dags / "README.md").write_text("# weak\n")
    (dags / "no_dag.py").write_text("x = 1\n")
    (repo / "imports").mkdir(exist_ok=True)
    (repo / "imports" / "__init__.py").write_text("")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VALIDATION_NO_CACHE": "1"}
    environment.pop("CI", None)
    if ci:
        environment["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "validation", "--all", "--format", "json",
                           *options], cwd=repo, env=environment, capture_output=True,
                          text=True, preexec_fn=_without_landlock, check=False)


def test_under_ci_a_run_without_kernel_containment_fails_closed(tmp_path: Path) -> None:
    result = _run(tmp_path, ci=True)
    assert result.returncode == 3
    assert result.stdout == ""
    assert "kernel containment is unavailable here (no Landlock" in result.stderr
    assert "--allow-weak-containment" in result.stderr and "Traceback" not in result.stderr


def test_allowed_weak_containment_runs_and_says_so(tmp_path: Path) -> None:
    result = _run(tmp_path, "--allow-weak-containment", ci=True)
    assert result.returncode == 1, result.stderr  # DAG004: the file defines no DAG
    summary = json.loads(result.stdout)["summary"]
    assert summary["notes"] == ["DAG files were imported without kernel containment (no "
                                "Landlock in this kernel (Linux 5.13+ with landlock in "
                                "lsm=)): behind seccomp and the audit-hook guard only"]


def test_outside_ci_a_weak_run_goes_on_and_says_so_in_the_text_summary(
        tmp_path: Path) -> None:
    result = _run(tmp_path, "--format", "text", ci=False)
    assert result.returncode == 1, result.stderr
    assert "Note: DAG files were imported without kernel containment" in result.stdout


def test_with_kernel_containment_there_is_no_note(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _run(tmp_path, ci=False)  # builds the repository
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VALIDATION_NO_CACHE": "1",
                   "CI": "true"}
    result = subprocess.run([sys.executable, "-m", "validation", "--all", "--format", "json"],
                            cwd=repo, env=environment, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1, result.stderr
    assert "notes" not in json.loads(result.stdout)["summary"]
