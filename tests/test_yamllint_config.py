"""The user guide's `yamllint .` and CI's `yamllint --strict .` fail on the same files:
every rule the repository's .yamllint enables is an error (--strict only makes warnings
fail the run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from yamllint.config import YamlLintConfig

REPO = Path(__file__).resolve().parent.parent
YAMLLINT = REPO / ".venv" / "bin" / "yamllint"

# One file per rule the default configuration makes a warning, and a clean one.
FILES = {
    "truthy.yaml": "key: yes\n",
    "comment.yaml": "key: 1  #no space\n",
    "comment_indentation.yaml": "key:\n      # too deep\n  - 1\n",
    "clean.yaml": "key: true  # a comment\n",
}


def test_every_enabled_rule_is_an_error() -> None:
    rules = YamlLintConfig(file=str(REPO / ".yamllint")).rules
    levels = {name: conf["level"] for name, conf in rules.items() if conf}
    assert {name for name, level in levels.items() if level != "error"} == set()
    assert {"truthy", "comments", "comments-indentation"} <= set(levels)


def _failing(root: Path, *options: str) -> set[str]:
    """The files `yamllint [options] NAME` fails on, one run per file."""
    failing = set()
    for name in FILES:
        result = subprocess.run([str(YAMLLINT), *options, name], cwd=root,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode in (0, 1), result.stderr
        if result.returncode:
            failing.add(name)
    return failing


@pytest.fixture(scope="module")
def lint_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("yamllint")
    shutil.copy(REPO / ".yamllint", root / ".yamllint")
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_the_guides_command_fails_where_ci_does(lint_root: Path) -> None:
    expected = set(FILES) - {"clean.yaml"}
    assert _failing(lint_root) == expected
    assert _failing(lint_root, "--strict") == expected
