"""A rule that raises: one VAL001 problem on the file it was checking, naming the rule and
the exception; the other rules and files are still checked, and the exit status is 3."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from validation.cli import EXIT_INTERNAL, main
from validation.facts import RepoFacts, RoleFacts
from validation.problems import INTERNAL_ERROR, Finding, Level
from validation.registry import RULES, Subject, all_rules, rule

EXAMPLE = Path(__file__).resolve().parent.parent
BROKEN_ID = "ROL999"
ROLE = "environments/dev/roles/airflow_dev_examples.yaml"
OTHER_ROLE = "environments/prod/roles/airflow_prod_examples.yaml"


@pytest.fixture
def broken_rule() -> Iterator[None]:
    """A deliberately broken role rule, registered for this test only: it finds one
    problem on the dev role, then raises."""
    all_rules()  # the real rules first, so the broken one comes on top of them

    @rule(BROKEN_ID, "always-breaks", Level.WARNING, Subject.ROLE)
    def always_breaks(role: RoleFacts, repo: RepoFacts) -> Iterator[Finding]:
        """Breaks on every dev role file."""
        if role.env == "dev":
            yield Finding("found before breaking", 1, 1)
            raise KeyError("no-such-key")

    try:
        yield
    finally:
        del RULES[BROKEN_ID]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("environments", "imports", "setup.cfg"):
        source = EXAMPLE / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    return root


def test_a_rule_that_raises_is_a_problem_on_that_file_and_the_run_goes_on(
        broken_rule: None, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--root", str(repo), "--no-cache", "--format", "text",
                   str(repo / ROLE), str(repo / OTHER_ROLE)])
    out = capsys.readouterr().out
    assert status == EXIT_INTERNAL
    lines = out.splitlines()
    failed = [line for line in lines if line.startswith(f"{ROLE}:0:0: {INTERNAL_ERROR}")]
    assert failed == [
        f"{ROLE}:0:0: {INTERNAL_ERROR} [internal-error] rule {BROKEN_ID} (always-breaks) "
        "failed on this file: KeyError: 'no-such-key'. This is a bug in the validator, not "
        "in your file: please report it (the other rules still ran)"]
    # what the rule found before it broke is kept; the other file is checked and clean
    assert f"{ROLE}:1:1: {BROKEN_ID} [always-breaks] found before breaking (warning)" in lines
    assert not [line for line in lines if line.startswith(OTHER_ROLE)]
    assert "in 2 files" in lines[-1]


def test_without_the_broken_rule_the_same_files_are_clean(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "--no-cache", str(repo / ROLE),
                 str(repo / OTHER_ROLE)]) == 0
    assert capsys.readouterr().out == "No problems in 2 files.\n"


def test_an_internal_error_cannot_be_suppressed_or_deselected(
        broken_rule: None, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    role = repo / ROLE
    role.write_text(role.read_text() + "# validation: disable-file=VAL001\n")
    status = main(["--root", str(repo), "--no-cache", "--ignore", "STR", str(role)])
    assert status == EXIT_INTERNAL
    assert f"{ROLE}:0:0: {INTERNAL_ERROR}" in capsys.readouterr().out


def test_a_rule_reading_a_repository_fact_it_did_not_declare_is_a_bug(tmp_path: Path) -> None:
    """What a rule reads of the repository is what --changed-since follows: a rule reading
    a fact its @rule(reads=...) leaves out fails, so its tests fail, instead of CI
    silently skipping the files whose result it changes."""
    from validation.facts import PathFacts, Route
    from validation.registry import Reads
    from validation.routes import Kind
    from validation.run.checks import check_facts

    all_rules()

    @rule("STR998", "reads-roles-undeclared", Level.WARNING, Subject.PATH)
    def undeclared(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
        """Reads the role files without saying so."""
        if repo.roles:
            yield Finding("a role exists")

    @rule("STR997", "reads-roles-declared", Level.WARNING, Subject.PATH, reads=[Reads.ROLES])
    def declared(facts: PathFacts, repo: RepoFacts) -> Iterator[Finding]:
        """Reads the role files, and says so."""
        if repo.roles and repo.environments and repo.settings:
            yield Finding("a role exists")

    try:
        repo = RepoFacts(str(tmp_path), ("dev",), {"dev": frozenset({"airflow_dev_x"})}, {}, {},
                         True)
        path = PathFacts("README.md", Route(Kind.UNCHECKED), True, False)
        found = check_facts(Subject.PATH, "README.md", path, repo,
                            [RULES["STR998"], RULES["STR997"]])
    finally:
        del RULES["STR998"], RULES["STR997"]
    assert [(p.rule, p.message.split(":")[0]) for p in found] == [
        ("STR997", "a role exists"), (INTERNAL_ERROR, "rule STR998 (reads-roles-undeclared) "
                                                      "failed on this file")]
    assert "UndeclaredRead: STR998 reads RepoFacts.roles but its @rule" in found[1].message
