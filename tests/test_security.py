"""Rules SEC001-SEC006 on real role files, and the fixture repository tests/fixtures/rolerepo.

The unit cases write role files into a repository under tmp_path; SEC001's also write the
other environment's roles, which the rule reads from disk. The fixture repository marks
every line it expects flagged (see expectations.py), and each of its role files must give
the same result named alone as in a run with --all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from expectations import expected_problems
from test_role_grants import write
from test_roles import GOOD, NASTY, ROLE, _doc_example

from validation.config import Config, load_config
from validation.facts import RuleSettings
from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.roles import load_role
from validation.problems import Problem, Report
from validation.registry import Rule, Subject, all_rules
from validation.run.checks import check_facts
from validation.run.runner import run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "rolerepo"
RULES: list[Rule] = [rule for rule_id, rule in all_rules().items() if rule_id.startswith("SEC")]

Found = tuple[str, int, int, str]
W, E = "warning", "error"


def problems(root: Path, text: str, name: str = ROLE, env: str = "dev",
             settings: RuleSettings | None = None) -> list[Problem]:
    rel_path = f"environments/{env}/roles/{name}.yaml"
    write(root, rel_path, text)
    repo = with_role_context(root, scan_repo(root, ("dev", "prod")))
    if settings is not None:
        repo = dataclasses.replace(repo, settings=settings)
    facts = load_role(root, rel_path, env, name)
    return check_facts(Subject.ROLE, rel_path, facts, repo, RULES)


def check(root: Path, text: str, name: str = ROLE, settings: RuleSettings | None = None,
          ) -> list[Found]:
    return [(p.rule, p.line, p.column, p.level.value)
            for p in problems(root, text, name, settings=settings)]


BAD_CASES: list[tuple[str, str, list[Found]]] = [
    # SEC002: wildcard buckets, an error for writes and a warning for reads
    ("star", "s3:\n  read_write:\n    - '*'\n", [("SEC002", 3, 7, E)]),
    ("star slash star", "s3:\n  write_only:\n    - '*/*'\n", [("SEC002", 3, 7, E)]),
    ("bucket prefix", "s3:\n  read_only:\n    - alpha-*/x\n", [("SEC002", 3, 7, W)]),
    ("question mark", "s3:\n  read_only: ['alpha-?/x/*']\n", [("SEC002", 2, 15, W)]),
    ("with s3 scheme", "s3:\n  read_write: ['s3://*/x']\n", [("SEC002", 2, 16, E)]),
    # SEC003: shared buckets
    ("alpha-everyone", "s3:\n  read_write:\n    - alpha-everyone/*\n", [("SEC003", 3, 7, E)]),
    ("query dump", "s3:\n  write_only:\n    - mojap-athena-query-dump/*\n",
     [("SEC003", 3, 7, E)]),
    ("lookup tables", "s3:\n  read_write:\n    - moj-analytics-lookup-tables/*/x.csv\n",
     [("SEC003", 3, 7, E)]),
    ("athena results", "s3:\n  read_write:\n    - aws-athena-query-results-1-eu/a*\n",
     [("SEC003", 3, 7, E)]),
    # SEC004: the Airflow buckets
    ("dags", "s3:\n  write_only:\n    - mojap-airflow-prod/dags/*\n", [("SEC004", 3, 7, E)]),
    ("a glob reaching it", "s3:\n  read_write:\n    - mojap-airflow-*/x/*\n",
     [("SEC002", 3, 7, E), ("SEC004", 3, 7, E)]),
    ("dump bucket", "athena:\n  dump_bucket:\n    - alpha-dump\n    - mojap-airflow-dev\n",
     [("SEC004", 4, 7, E)]),
    # SEC005: CaDeT deployer
    ("cadet", "iam_role_name: airflow_dev_cadet\n\nis_cadet_deployer: true\n",
     [("SEC005", 3, 1, E)]),
    # SEC006: broad names
    ("kms star", "kms: ['*']\n", [("SEC006", 1, 7, E)]),
    ("kms key star", "kms:\n  - arn:aws:kms:eu-west-1:123456789012:key/*\n", [("SEC006", 2, 5, E)]),
    ("kms alias short", "kms:\n  - arn:aws:kms:eu-west-1:123456789012:alias/a-*\n",
     [("SEC006", 2, 5, W)]),
    ("secret empty", "secretsmanager:\n  read_only: ['']\n", [("SEC006", 2, 15, E)]),
    ("secret star", "secretsmanager:\n  read_only: ['*']\n", [("SEC006", 2, 15, E)]),
    ("secret short", "secretsmanager:\n  read_only: [ab, abc]\n", [("SEC006", 2, 15, W)]),
    ("secret no name", "secretsmanager:\n  read_only: [a/]\n", [("SEC006", 2, 15, W)]),
    ("database star", "allowed_database_names: ['*', db*]\n",
     [("SEC006", 1, 26, E), ("SEC006", 1, 31, W)]),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in BAD_CASES],
                         ids=[case[0] for case in BAD_CASES])
def test_bad_role_files(tmp_path: Path, text: str, expected: list[Found]) -> None:
    assert check(tmp_path, text) == sorted(expected, key=lambda item: (item[1], item[2]))


def test_every_rule_has_a_bad_case() -> None:
    flagged = {found[0] for case in BAD_CASES + CROSS_ENV_CASES for found in case[-1]}
    assert flagged == {rule.id for rule in RULES}


CLEAN = [
    "s3:\n  read_only:\n    - alpha-everyone/*\n    - mojap-airflow-dev/*\n"
    "  read_write:\n    - alpha-everyone/my-project/*\n    - mojap-athena-query-dump/x/y/*\n"
    "    - alpha-everyone/top-file.csv\n    - alpha-everyone\n",
    "athena:\n  write: true\n  dump_bucket: mojap-athena-query-dump\n",
    "kms:\n  - arn:aws:kms:eu-west-1:123456789012:key/abc*\n  - not-an-arn\n"
    "secretsmanager:\n  read_only: [abc, my/secret]\n"
    "allowed_database_names: [a, ab, abc*, my_db_*]\n",
    "s3:\n  deny: ['*']\n  read_write: [alpha-x/*]\n",  # denying broadly is safe
]


@pytest.mark.parametrize("text", CLEAN, ids=range(len(CLEAN)))
def test_clean_role_files(tmp_path: Path, text: str) -> None:
    assert check(tmp_path, text) == []


def test_settings_are_read(tmp_path: Path) -> None:
    settings = RuleSettings(shared_buckets=("team-*",), control_plane_buckets=("my-airflow",),
                            cadet_roles=frozenset({"airflow_dev_cadet"}))
    text = ("iam_role_name: airflow_dev_cadet\nis_cadet_deployer: true\ns3:\n  read_write:\n"
            "    - team-shared/*\n    - alpha-everyone/*\n    - my-airflow/x\n")
    assert check(tmp_path, text, "airflow_dev_cadet", settings) == [
        ("SEC003", 5, 7, E), ("SEC004", 7, 7, E)]


@pytest.mark.parametrize("fixture", sorted(GOOD.glob("*.yaml")), ids=lambda path: path.stem)
def test_good_role_files(tmp_path: Path, fixture: Path) -> None:
    assert check(tmp_path, fixture.read_text(encoding="utf-8"), fixture.stem) == []


@pytest.mark.parametrize("found", RULES, ids=lambda found: found.id)
def test_doc_examples(tmp_path: Path, found: Rule) -> None:
    bad, bad_name = _doc_example(found.doc, "Bad")
    good, good_name = _doc_example(found.doc, "Good")
    if found.id == "SEC001":  # the other environment's role, as the example says
        for root in (tmp_path / "bad", tmp_path / "good"):
            write(root, "environments/prod/roles/airflow_prod_example.yaml",
                  "s3:\n  read_write:\n    - alpha-my-bucket/*\n")
    assert found.id in {rule_id for rule_id, *_ in check(tmp_path / "bad", bad, bad_name)}
    assert check(tmp_path / "good", good, good_name) == []


# -- SEC001: dev and prod write to different places ---------------------------------------

PROD = "environments/prod/roles/airflow_prod_other.yaml"
CROSS_ENV_CASES: list[tuple[str, str, str, list[Found]]] = [
    ("under the other's prefix", "s3:\n  read_write: [alpha-data/*]\n",
     "s3:\n  read_write:\n    - alpha-data/out/*\n", [("SEC001", 3, 7, E)]),
    ("the other's object", "s3:\n  write_only: [alpha-data/out/x.csv]\n",
     "s3:\n  read_write:\n    - alpha-data/out/*\n", [("SEC001", 3, 7, E)]),
    ("glob against glob", "s3:\n  write_only: [alpha-data/*/x/*]\n",
     "s3:\n  write_only:\n    - alpha-data/team/*\n", [("SEC001", 3, 7, E)]),
    ("s3 scheme on the other side", "s3:\n  write_only: ['s3://alpha-data/*']\n",
     "s3:\n  write_only:\n    - alpha-data/team/*\n", [("SEC001", 3, 7, E)]),
    # a wildcard in a bucket name is SEC002's alone, on its own file
    ("our glob bucket", "s3:\n  read_write: [alpha-data/x/*]\n",
     "s3:\n  read_write:\n    - alpha-*/x/*\n", [("SEC002", 3, 7, E)]),
    ("their glob bucket", "s3:\n  read_write: ['alpha-*/out/*']\n",
     "s3:\n  read_write:\n    - alpha-data/out/x.csv\n", []),
    ("their `*`", "s3:\n  read_write: ['*']\n",
     "s3:\n  read_write:\n    - alpha-data/out/x.csv\n", []),
    ("sibling prefixes", "s3:\n  read_write: [alpha-data/b/*]\n",
     "s3:\n  read_write:\n    - alpha-data/a/*\n", []),
    ("other env reads only", "s3:\n  read_only: [alpha-data/*]\n  deny: [alpha-data/*]\n",
     "s3:\n  read_write:\n    - alpha-data/*\n", []),
    ("we read only", "s3:\n  read_write: [alpha-data/*]\n",
     "s3:\n  read_only:\n    - alpha-data/*\n", []),
    ("other file broken", "s3:\n  read_write: [alpha-data/*\n",
     "s3:\n  read_write: [alpha-data/*]\n", []),
    ("other file odd", "s3: {read_write: [3, {a: b}], write_only: x}\n",
     "s3:\n  read_write: [alpha-data/*]\n", []),
    ("other file a list", "- s3\n", "s3:\n  read_write: [alpha-data/*]\n", []),
]


@pytest.mark.parametrize("prod, dev, expected", [case[1:] for case in CROSS_ENV_CASES],
                         ids=[case[0] for case in CROSS_ENV_CASES])
def test_cross_env_write(tmp_path: Path, prod: str, dev: str, expected: list[Found]) -> None:
    write(tmp_path, PROD, prod)
    assert check(tmp_path, dev) == expected


def test_cross_env_write_names_the_other_file_and_path(tmp_path: Path) -> None:
    write(tmp_path, PROD, "s3:\n  read_write:\n    - alpha-data/*\n    - alpha-data/out/*\n")
    [found] = problems(tmp_path, "s3:\n  write_only:\n    - alpha-data/out/x.csv\n")
    assert found.message == (
        "`alpha-data/out/x.csv` (s3.write_only) overlaps `alpha-data/*`, which "
        f"{PROD}:3 (s3.read_write) lets prod write (and 1 more): environments must not "
        "write to the same places; give each its own bucket or prefix")


def test_an_overlap_is_reported_on_both_files_each_naming_the_other(tmp_path: Path) -> None:
    dev_role = "environments/dev/roles/airflow_dev_example.yaml"
    write(tmp_path, PROD, "iam_role_name: airflow_prod_other\ns3:\n  read_write:\n"
          "    - alpha-data/*\n")
    write(tmp_path, dev_role, "iam_role_name: airflow_dev_example\ns3:\n  write_only:\n"
          "    - alpha-data/out/*\n")
    report = run(tmp_path, [PROD, dev_role], everything=False, config=Config(), cwd=tmp_path)
    found = {(p.path, p.line, p.message.split(", which ")[1].split(" (")[0])
             for p in report.problems if p.rule == "SEC001"}
    assert found == {(PROD, 4, f"{dev_role}:4"), (dev_role, 4, f"{PROD}:4")}


def test_a_wildcard_bucket_in_dev_blames_no_prod_role(tmp_path: Path) -> None:
    """A dev role writing `*` is SEC002 on that file; the prod roles nobody touched,
    which write to named buckets, get no SEC001."""
    dev_role = "environments/dev/roles/airflow_dev_everything.yaml"
    write(tmp_path, dev_role, "iam_role_name: airflow_dev_everything\ns3:\n  read_write:\n"
          "    - '*'\n")
    write(tmp_path, PROD, "iam_role_name: airflow_prod_other\ns3:\n  read_write:\n"
          "    - alpha-data/*\n")
    report = run(tmp_path, [], everything=True, config=Config(), cwd=tmp_path)
    assert {(p.path, p.line, p.rule) for p in report.problems if p.rule.startswith("SEC")} == {
        (dev_role, 4, "SEC002")}


def test_same_env_roles_may_share(tmp_path: Path) -> None:
    write(tmp_path, "environments/dev/roles/airflow_dev_other.yaml",
          "s3:\n  read_write: [alpha-data/*]\n")
    assert check(tmp_path, "s3:\n  read_write: [alpha-data/*]\n") == []


# -- the fixture repository ---------------------------------------------------------------


@pytest.fixture(scope="module")
def full_run() -> Report:
    """Everything, DAG files included (the tiny ones there fail DAG rules: ignored here)."""
    return run(FIXTURE, [], everything=True, config=load_config(FIXTURE), cwd=FIXTURE)


def _role_problems(report: Report) -> set[tuple[str, int, str, str]]:
    return {(p.path, p.line, p.rule, p.level.value) for p in report.problems
            if "/roles/" in p.path}


ROLE_FILES = sorted(path.relative_to(FIXTURE).as_posix()
                    for path in FIXTURE.glob("environments/*/roles/*.yaml"))


def test_fixture_marks_every_role_problem(full_run: Report) -> None:
    expected = {item for item in expected_problems(FIXTURE) if "/roles/" in item[0]}
    assert _role_problems(full_run) == expected


@pytest.mark.parametrize("path", ROLE_FILES)
def test_a_role_file_alone_gives_what_the_full_run_gives(full_run: Report, path: str) -> None:
    alone = run(FIXTURE, [path], everything=False, config=load_config(FIXTURE), cwd=FIXTURE)
    assert alone.problems == [p for p in full_run.problems if p.path == path]


def test_role_files_named_together_give_what_the_full_run_gives(full_run: Report) -> None:
    together = run(FIXTURE, ROLE_FILES, everything=False, config=load_config(FIXTURE),
                   cwd=FIXTURE)
    assert together.problems == [p for p in full_run.problems if "/roles/" in p.path]


# -- never a crash ------------------------------------------------------------------------


@pytest.mark.parametrize("data", NASTY, ids=range(len(NASTY)))
def test_nasty_files_on_either_side(tmp_path: Path, data: bytes) -> None:
    """Every rule, cross-file context included, on a nasty file checked and a nasty file
    in the other environment next to a sound one."""
    (tmp_path / PROD).parent.mkdir(parents=True)
    (tmp_path / PROD).write_bytes(data)
    rel_path = f"environments/dev/roles/{ROLE}.yaml"
    for text in (data, b"s3:\n  read_write: [alpha-data/*]\n"):
        (tmp_path / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel_path).write_bytes(text)
        repo = with_role_context(tmp_path, scan_repo(tmp_path, ("dev", "prod")))
        facts = load_role(tmp_path, rel_path, "dev", ROLE)
        for found in check_facts(Subject.ROLE, rel_path, facts, repo):
            assert found.line >= 1 and found.column >= 1 and found.message
