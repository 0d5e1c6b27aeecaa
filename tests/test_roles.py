"""Role files: the loader (YAML + iam_builder, for real) and rules ROL001-ROL010.

Each case writes a real file under tmp_path/environments/<env>/roles/, loads it with the
real iam_builder and says exactly which rule flags which line and column.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from validation.facts import ErrorFacts, RoleFacts
from validation.loaders.repo import scan_repo
from validation.loaders.roles import load_role
from validation.problems import Problem
from validation.registry import Rule, Subject, all_rules
from validation.run.checks import check_facts

GOOD = Path(__file__).parent / "fixtures" / "roles" / "good"
ROLE = "airflow_dev_example"
LONG_NAME = "airflow_dev_" + "_".join(["abcdefgh"] * 6)  # 65 characters

# The rules under test; rules added later (ROL011+, SEC) have their own tests.
ROLE_RULES: list[Rule] = [
    found for rule_id, found in all_rules().items() if "ROL001" <= rule_id <= "ROL010"
]


def load(root: Path, text: str | bytes, name: str = ROLE, env: str = "dev") -> RoleFacts:
    rel_path = f"environments/{env}/roles/{name}.yaml"
    path = root / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return load_role(root, rel_path, env, name)


def problems(root: Path, text: str | bytes, name: str = ROLE, env: str = "dev") -> list[Problem]:
    facts = load(root, text, name, env)
    repo = scan_repo(root, ("dev", "prod"))
    return check_facts(Subject.ROLE, facts.path, facts, repo, ROLE_RULES)


def check(root: Path, text: str | bytes, name: str = ROLE) -> list[tuple[str, int, int]]:
    """(rule, line, column) of every problem the rules find in the role file text."""
    return [(found.rule, found.line, found.column) for found in problems(root, text, name)]


MIS_INDENTED = """\
# yamllint disable-file
# SHOULD FAIL: Invalid YAML
s3:
  read_only:
   - x1
  read_write:
   - x2
   write_only: - x3
"""

BAD_CASES: list[tuple[str, str | bytes, str, list[tuple[str, int, int]]]] = [
    # ROL001: not YAML
    ("iam_builder bad_yaml", MIS_INDENTED, ROLE, [("ROL001", 8, 4)]),
    ("tab indent", "s3:\n\tread_only: []\n", ROLE, [("ROL001", 2, 1)]),
    ("python tag", "iam_role_name: !!python/object/apply:os.system [ls]\n", ROLE,
     [("ROL001", 1, 16)]),
    ("not utf-8", b"iam_role_name: caf\xe9\n", ROLE, [("ROL001", 1, 19)]),
    ("control character", "iam_role_name: a\x07b\n", ROLE, [("ROL001", 1, 17)]),
    ("two documents", "glue_job: false\n---\nglue_job: true\n", ROLE, [("ROL001", 2, 1)]),
    ("recursive alias", "kms: &a [*a]\n", ROLE, [("ROL001", 1, 6)]),
    ("missing colon", "iam_role_name: x\ns3\n  read_only: []\n", ROLE, [("ROL001", 3, 12)]),
    # ROL002: not a mapping
    ("empty file", "", ROLE, [("ROL002", 1, 1)]),
    ("comments only", "# nothing yet\n", ROLE, [("ROL002", 1, 1)]),
    ("top-level list", "- iam_role_name: airflow_dev_example\n", ROLE, [("ROL002", 1, 1)]),
    ("top-level scalar", "\n\njust some text\n", ROLE, [("ROL002", 3, 1)]),
    # ROL003: iam_builder's own bad configs
    ("athena read", "athena:\n  read: true\n", ROLE, [("ROL003", 2, 3)]),
    ("misspelt iam_role", "glue_job: True\n\niam_role: should_fail_bad_key\n", ROLE,
     [("ROL003", 3, 1), ("ROL008", 1, 1)]),
    ("read_only a string", "s3:\n  read_only: test_bucket_read_only/*\n", ROLE,
     [("ROL003", 2, 14)]),
    ("s3 read", "s3:\n  read:\n    - alpha-test-iam-builer/db/*\n", ROLE, [("ROL003", 2, 3)]),
    ("secretsmanager read_write",
     f"iam_role_name: {ROLE}\n\nsecretsmanager:\n  read_write:\n    - test_secret\n", ROLE,
     [("ROL003", 4, 3)]),
    ("secretsmanager write_only",
     f"iam_role_name: {ROLE}\n\nsecretsmanager:\n  write_only:\n    - test_secret\n", ROLE,
     [("ROL003", 4, 3)]),
    ("secretsmanager a string", f"iam_role_name: {ROLE}\n\nsecretsmanager: write_only\n",
     ROLE, [("ROL003", 3, 17)]),
    ("database name with !",
     f"iam_role_name: {ROLE}\n\nallowed_database_names:\n"
     "  - example_invalid_database_name!\n  - example_wildcard_*\n  - bad-name\n", ROLE,
     [("ROL003", 4, 5), ("ROL003", 6, 5)]),
    ("cadet flag on another role", f"iam_role_name: {ROLE}\n\nis_cadet_deployer: true\n", ROLE,
     [("ROL003", 3, 1)]),
    # ROL003: what iam_builder's schema lets through and its builder crashes on
    ("athena true", "athena: true\n", ROLE, [("ROL003", 1, 9)]),
    ("athena empty", "athena:\ns3:\n  read_only: [b/*]\n", ROLE, [("ROL003", 1, 1)]),
    ("s3 null", "s3: null\n", ROLE, [("ROL003", 1, 5)]),
    ("s3 a list", "s3:\n  - read_only: [b/*]\n", ROLE, [("ROL003", 2, 3)]),
    ("secretsmanager empty", "secretsmanager: {}\n", ROLE, [("ROL003", 1, 1)]),
    # ROL003: more than one problem, each at its node
    ("many at once",
     "iam_role: x\ns3:\n  read: [a/*]\n  write_only: b/*\nkms: arn\nbedrock: 'yes'\n", ROLE,
     [("ROL003", 1, 1), ("ROL003", 3, 3), ("ROL003", 4, 15), ("ROL003", 5, 6),
      ("ROL003", 6, 10)]),
    ("key belongs under s3", "read_only:\n  - b/*\n", ROLE, [("ROL003", 1, 1)]),
    ("date for a name", "iam_role_name: 2024-01-01\n", ROLE, [("ROL003", 1, 16)]),
    ("dump_bucket a number", "athena:\n  dump_bucket: 3\n", ROLE, [("ROL003", 2, 16)]),
    ("entry not a string", "kms:\n  - arn:aws:kms:a\n  - 42\n", ROLE, [("ROL003", 3, 5)]),
    # ROL004 .. ROL006: the file name
    ("prod name in dev", "iam_role_name: airflow_prod_example\n", "airflow_prod_example",
     [("ROL004", 1, 1)]),
    ("no prefix", "s3:\n  read_only: [b/*]\n", "my_role", [("ROL004", 1, 1)]),
    ("upper case", "s3:\n  read_only: [b/*]\n", "airflow_dev_My_Role", [("ROL005", 1, 1)]),
    ("double underscore", "s3:\n  read_only: [b/*]\n", "airflow_dev_a__b", [("ROL005", 1, 1)]),
    ("hyphen", "s3:\n  read_only: [b/*]\n", "airflow_dev_a-b", [("ROL005", 1, 1)]),
    ("too long", "s3:\n  read_only: [b/*]\n", LONG_NAME, [("ROL006", 1, 1)]),
    ("name rules on broken yaml", "s3:\n\t- x\n", "role", [("ROL001", 2, 1), ("ROL004", 1, 1)]),
    # ROL007: iam_role_name and the file name
    ("name mismatch", "iam_role_name: airflow_dev_other\n", ROLE, [("ROL007", 1, 16)]),
    ("name mismatch, iam_builder's name", "iam_role_name: an_iam_role_name\nsecrets: read\n",
     ROLE, [("ROL007", 1, 16)]),
    # ROL008: the builder's bare KeyError
    ("glue_job without a name", "glue_job: true\ns3:\n  read_write: [b/*]\n", ROLE,
     [("ROL008", 1, 1)]),
    ("secrets without a name", "\nsecrets: true\n", ROLE, [("ROL008", 2, 1)]),
    ("empty secrets without a name", "secrets: ''\n", ROLE,
     [("ROL008", 1, 1), ("ROL009", 1, 10)]),
    ("cadet without a name", "is_cadet_deployer: true\n", ROLE, [("ROL008", 1, 1)]),
    # ROL009: a string iam_builder reads as "read"
    ("secrets banana", f"iam_role_name: {ROLE}\nsecrets: banana\n", ROLE, [("ROL009", 2, 10)]),
    ("secrets quoted false", f"iam_role_name: {ROLE}\nsecrets: 'false'\n", ROLE,
     [("ROL009", 2, 10)]),
    # ROL010: duplicate keys
    ("duplicate list", "s3:\n  read_only: [a/*]\n  read_only: [b/*]\n", ROLE,
     [("ROL010", 3, 3)]),
    ("duplicate top-level key", "glue_job: false\ns3: {read_only: [a/*]}\nglue_job: false\n",
     ROLE, [("ROL010", 3, 1)]),
    ("duplicate unknown key", "s3:\n  read: [a/*]\n  read: [b/*]\n", ROLE,
     [("ROL003", 3, 3), ("ROL010", 3, 3)]),
    ("anchor merged once", "base: &b {read_only: [a/*]}\n", ROLE, [("ROL003", 1, 1)]),
]


@pytest.mark.parametrize(
    "text, name, expected", [case[1:] for case in BAD_CASES], ids=[case[0] for case in BAD_CASES]
)
def test_bad_role_files(
    tmp_path: Path, text: str | bytes, name: str, expected: list[tuple[str, int, int]]
) -> None:
    assert check(tmp_path, text, name) == sorted(expected, key=lambda item: (item[1], item[2]))


def test_every_rule_has_a_bad_case() -> None:
    flagged = {rule_id for case in BAD_CASES for rule_id, _, _ in case[3]}
    assert flagged == {rule.id for rule in ROLE_RULES}


@pytest.mark.parametrize("fixture", sorted(GOOD.glob("*.yaml")), ids=lambda path: path.stem)
def test_good_role_files(tmp_path: Path, fixture: Path) -> None:
    facts = load(tmp_path, fixture.read_bytes(), fixture.stem)
    repo = scan_repo(tmp_path, ("dev", "prod"))
    assert check_facts(Subject.ROLE, facts.path, facts, repo, ROLE_RULES) == []
    assert facts.schema_errors == [] and facts.build_error is None
    assert facts.policy is not None and facts.policy["Statement"]


def test_good_fixtures_cover_iam_builders_test_configs() -> None:
    expected = {
        "read_only", "write_only", "read_write", "deny", "sub_folder_multi_access",
        "athena_full_access", "athena_read_only", "athena_two_dumps", "glue_job",
        "glue_catalog_tables", "secrets", "secrets_readwrite", "secretsmanager_read_only",
        "cloudwatch_athena_query_executions", "all_config",
    }
    assert {f"airflow_dev_{name}" for name in expected} <= {p.stem for p in GOOD.glob("*.yaml")}


def _doc_example(doc: str, label: str) -> tuple[str, str]:
    """The Bad: or Good: example of a rule's docstring, and the role name it shows."""
    block = doc.split(f"\n{label}:\n", 1)[1].split("\nGood:\n", 1)[0]
    text = textwrap.dedent(block).strip("\n") + "\n"
    first = text.splitlines()[0]
    if first.startswith("# ") and first.endswith(".yaml"):  # the file, in environments/dev
        return text, first.rsplit("/", 1)[-1].removeprefix("# ").removesuffix(".yaml")
    return text, ROLE


@pytest.mark.parametrize("found", ROLE_RULES, ids=lambda found: found.id)
def test_doc_examples(tmp_path: Path, found: Rule) -> None:
    bad, bad_name = _doc_example(found.doc, "Bad")
    good, good_name = _doc_example(found.doc, "Good")
    assert found.id in {rule_id for rule_id, _, _ in check(tmp_path / "bad", bad, bad_name)}
    assert check(tmp_path / "good", good, good_name) == []


# -- messages lead the user to the fix ----------------------------------------------------

MESSAGES = [
    ("s3:\n  read:\n    - a/*\n", ROLE, "did you mean `read_only`?"),
    ("iam_role: x\n", ROLE, "did you mean `iam_role_name`?"),
    ("athena:\n  read: true\n", ROLE, "allowed here: write, dump_bucket"),
    ("read_only:\n  - b/*\n", ROLE, "it belongs under `s3:` or `secretsmanager:`"),
    ("s3:\n  read_only: b/*\n", ROLE, "`s3.read_only` must be a list, not the string 'b/*'"),
    ("athena: true\n", ROLE, "`athena` must be a mapping, not true"),
    ("secretsmanager: {}\n", ROLE, "must contain `read_only`"),
    ("allowed_database_names: [ok, 'no!']\n", ROLE, "database name 'no!'"),
    ("iam_role_name: airflow_dev_other\n", ROLE,
     "rename the file to airflow_dev_other.yaml or set iam_role_name: airflow_dev_example"),
    ("glue_job: true\n", ROLE, "add `iam_role_name: airflow_dev_example`"),
    (f"iam_role_name: {ROLE}\nsecrets: read_write\n", ROLE, "Did you mean `secrets: readwrite`?"),
    (f"iam_role_name: {ROLE}\nsecrets: banana\n", ROLE, "true, false, read, readwrite"),
    ("s3:\n  deny: [a]\n  deny: [b]\n", ROLE, "duplicate key `deny` in `s3` (first at line 2)"),
    ("", ROLE, "the file is empty"),
    ("- a\n", ROLE, "the top level is a list"),
    ("a:\n\t- b\n", ROLE, "indent with spaces"),
    ("{}\n", "airflow_prod_example", "rename the file to airflow_dev_example.yaml"),
    ("{}\n", "Airflow-Dev-My-Role", "rename the file to airflow_dev_my_role.yaml"),
    ("{}\n", "airflow_dev_My_Role", "rename the file to airflow_dev_my_role.yaml"),
    ("{}\n", LONG_NAME, "65 characters long"),
]


@pytest.mark.parametrize("text, name, fragment", MESSAGES)
def test_messages(tmp_path: Path, text: str, name: str, fragment: str) -> None:
    messages = [found.message for found in problems(tmp_path, text, name)]
    assert any(fragment in message for message in messages), messages


def test_builder_exception_is_a_problem() -> None:
    facts = RoleFacts(path="environments/dev/roles/x.yaml", env="dev", name=ROLE,
                      config={"s3": {}}, positions={"": (1, 1)},
                      build_error=ErrorFacts("TypeError", "unhashable type: 'list'", 1, 1))
    repo = scan_repo(Path("/nonexistent"), ("dev", "prod"))
    found = check_facts(Subject.ROLE, facts.path, facts, repo, ROLE_RULES)
    assert [(p.rule, p.line, p.column) for p in found] == [("ROL003", 1, 1)]
    assert "TypeError: unhashable type" in found[0].message


# -- the loader ---------------------------------------------------------------------------


def test_loader_records_positions_and_policy(tmp_path: Path) -> None:
    facts = load(tmp_path, f"iam_role_name: {ROLE}\ns3:\n  read_only:\n    - a/*\n")
    assert facts.config == {"iam_role_name": ROLE, "s3": {"read_only": ["a/*"]}}
    assert facts.positions["/s3#key"] == (2, 1)
    assert facts.positions["/s3/read_only#key"] == (3, 3)
    assert facts.positions["/s3/read_only/0"] == (4, 7)
    assert facts.policy is not None and facts.yaml_error is None


def test_loader_skips_the_builder_on_a_known_crash(tmp_path: Path) -> None:
    facts = load(tmp_path, "glue_job: true\n")
    assert facts.policy is None and facts.build_error is None


NASTY: list[bytes] = [
    b"",
    b"\xff\xfe\xfd\x00garbage",
    b"\xef\xbb\xbfiam_role_name: airflow_dev_example\n",
    "iam_role_name: airflow_dev_example\n".encode("utf-16"),
    b"\x00\x01\x02",
    b"\t\tkey: value",
    b"[" * 5000,
    b"a:\n" + b"".join(b"  " * depth + b"a:\n" for depth in range(1, 400)),
    b"- " * 3000 + b"x",
    b"!!python/object:os.system x",
    b"a: !!python/name:os.system",
    b"a: &a [&b [*b]]",
    b"a: &a ['lol', 'lol']\n"
    + b"".join(b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n"
               % ((98 + i,) * 2 + (97 + i,) * 10) for i in range(9)),
    b"- 1\n- 2\n",
    b"42",
    b"{1: 2, null: 3, true: 4, 2024-01-01: 5, 1.5: 6}",
    b"? [a, b]\n: c\n",
    b"? {a: b}\n: c\n",
    b"a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!omap [d: 1]\nd: .nan\ne: -.inf",
    b"<<: 5\n",
    b"s3: {<<: [1, 2]}\n",
    b"s3: {<<: {read_only: [a]}, read_only: [b]}\n",
    b"%YAML 1.1\n---\na: 1\n",
    b"a: *undefined\n",
    b"a: &x 1\nb: &x 2\n",
    b"!!str\n",
    b"!custom {a: 1}",
    b"a/b~c: 1\n'': 2\n",
    b"s3: !!map 'x'\n",
    b"iam_role_name: airflow_dev_example\nis_cadet_deployer: 'yes'\n",
    b"role_duration_seconds: 99999999999999999999999999999999\n",
    b"kms: [" + b"x, " * 2000 + b"]\n",
    b"a: " + b"[" * 200 + b"]" * 200,
    b"x" * 1_000_001,
]


@pytest.mark.parametrize("data", NASTY, ids=range(len(NASTY)))
def test_loader_never_raises(tmp_path: Path, data: bytes) -> None:
    facts = load(tmp_path, data)
    json.dumps(dataclasses.asdict(facts))  # plain data only
    repo = scan_repo(tmp_path, ("dev", "prod"))
    for found in check_facts(Subject.ROLE, facts.path, facts, repo):
        assert found.line >= 1 and found.column >= 1 and found.message


@pytest.mark.parametrize("make", ["directory", "missing"])
def test_loader_on_unreadable_paths(tmp_path: Path, make: str) -> None:
    rel_path = f"environments/dev/roles/{ROLE}.yaml"
    if make == "directory":
        (tmp_path / rel_path).mkdir(parents=True)
    facts = load_role(tmp_path, rel_path, "dev", ROLE)
    assert facts.yaml_error is not None and facts.yaml_error.line == 1


# The role loader builds with iam_builder's build_iam_policy, its schema check done once
# instead of on every call: the policy and the error must be exactly iam_builder's own.
BAD_CONFIGS = [{"athena": {"read": True}}, {"s3": {"read_only": "bucket/*"}},
               {"secrets": "banana", "iam_role_name": 3}, {"kms": [1]}, {}]


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.yaml")), ids=lambda path: path.stem)
def test_the_fast_build_gives_iam_builders_own_policy(path: Path) -> None:
    from iam_builder.iam_builder import build_iam_policy

    from validation.loaders.roles import _build_iam_policy

    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _build_iam_policy(config) == build_iam_policy(config)


@pytest.mark.parametrize("config", BAD_CONFIGS)
def test_the_fast_build_raises_iam_builders_own_error(config: dict[str, object]) -> None:
    from iam_builder.iam_builder import build_iam_policy

    from validation.loaders.roles import _build_iam_policy

    def outcome(build: Any) -> tuple[str, str]:
        try:
            return "policy", json.dumps(build(config), sort_keys=True)
        except Exception as error:  # compared, not hidden
            return type(error).__name__, str(error)

    assert outcome(_build_iam_policy) == outcome(build_iam_policy)
