"""Rules ROL011-ROL016 on real role files, loaded with the real iam_builder.

Each case writes a role file into a repository under tmp_path and says which rule flags
which line and column, at which level. ROL016 reads the repository's DAG sources, so its
cases write those too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_roles import GOOD, ROLE, _doc_example

from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.roles import load_role
from validation.problems import Problem
from validation.registry import Rule, Subject, all_rules
from validation.run.checks import check_facts

RULES: list[Rule] = [rule for rule_id, rule in all_rules().items()
                     if "ROL011" <= rule_id <= "ROL016"]
LOCAL_RULES = [rule for rule in RULES if rule.id != "ROL016"]  # ROL016 looks at the DAGs

Found = tuple[str, int, int, str]


def write(root: Path, rel_path: str, text: str) -> None:
    path = root / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def problems(root: Path, text: str, name: str = ROLE, env: str = "dev",
             rules: list[Rule] = LOCAL_RULES) -> list[Problem]:
    rel_path = f"environments/{env}/roles/{name}.yaml"
    write(root, rel_path, text)
    repo = with_role_context(root, scan_repo(root, ("dev", "prod")))
    facts = load_role(root, rel_path, env, name)
    return check_facts(Subject.ROLE, rel_path, facts, repo, rules)


def check(root: Path, text: str, name: str = ROLE, rules: list[Rule] = LOCAL_RULES,
          ) -> list[Found]:
    return [(p.rule, p.line, p.column, p.level.value) for p in problems(root, text, name,
                                                                        rules=rules)]


NAMED = f"iam_role_name: {ROLE}\n"
W, E = "warning", "error"
BAD_CASES: list[tuple[str, str, list[Found]]] = [
    # ROL011: a flag iam_builder reads by presence
    ("cloudwatch false", NAMED + "s3: {read_only: [alpha-x/*]}\n"
     "cloudwatch_athena_query_executions: false\n", [("ROL011", 3, 1, W)]),
    ("cadet false", "iam_role_name: airflow_dev_cadet_x\n  # comment\nis_cadet_deployer: false\n",
     [("ROL011", 3, 1, W)]),
    # ROL012: nothing granted
    ("only a name", NAMED, [("ROL012", 1, 1, W)]),
    ("false flags", f"\n{NAMED}glue_job: false\nsecrets: false\nbedrock: false\n",
     [("ROL012", 2, 1, W)]),
    ("empty s3", NAMED + "s3: {}\n", [("ROL012", 1, 1, W)]),
    # ROL013: spelling of S3 paths
    ("s3 scheme", "s3:\n  read_only:\n    - s3://alpha-x/data/*\n", [("ROL013", 3, 7, E)]),
    ("arn", "s3:\n  write_only:\n    - arn:aws:s3:::alpha-x/*\n", [("ROL013", 3, 7, E)]),
    ("leading slash", "s3:\n  deny:\n    - /alpha-x/secret/*\n  read_only: [alpha-x/*]\n",
     [("ROL013", 3, 7, E)]),
    ("whitespace", "s3:\n  read_write:\n    - 'alpha-x/my data/*'\n", [("ROL013", 3, 7, E)]),
    ("underscore bucket", "s3:\n  read_write: [alpha_x/*, ok-bucket/*]\n",
     [("ROL013", 2, 16, E)]),
    ("capitals", "s3:\n  read_only:\n    - Alpha-X/*\n", [("ROL013", 3, 7, E)]),
    ("short bucket", "s3:\n  read_only:\n    - ab/*\n", [("ROL013", 3, 7, E)]),
    ("empty path", "s3:\n  read_only:\n    - ''\n", [("ROL013", 3, 7, E), ("ROL014", 3, 7, W)]),
    # ROL014: no objects
    ("bucket alone", "s3:\n  read_only:\n    - alpha-x\n", [("ROL014", 3, 7, W)]),
    ("trailing slash", "s3:\n  read_write:\n    - alpha-x/out/\n", [("ROL014", 3, 7, W)]),
    ("bucket slash", "s3:\n  deny:\n    - alpha-x/\n  read_only: [alpha-x/*]\n",
     [("ROL014", 3, 7, W)]),
    ("s3 scheme and bucket alone", "s3:\n  read_only:\n    - s3://alpha-x\n",
     [("ROL013", 3, 7, E), ("ROL014", 3, 7, W)]),
    # ROL015: KMS ARNs
    ("kms key id", "kms:\n  - 1234abcd-12ab-34cd-56ef-1234567890ab\n", [("ROL015", 2, 5, E)]),
    ("kms alias", "kms:\n  - alias/my-key\n", [("ROL015", 2, 5, E)]),
    ("kms short account", "kms:\n  - arn:aws:kms:eu-west-1:12345678901:key/abc\n",
     [("ROL015", 2, 5, E)]),
    ("kms other service", "kms: [arn:aws:s3:::alpha-x]\n", [("ROL015", 1, 7, E)]),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in BAD_CASES],
                         ids=[case[0] for case in BAD_CASES])
def test_bad_role_files(tmp_path: Path, text: str, expected: list[Found]) -> None:
    assert check(tmp_path, text) == sorted(expected, key=lambda item: (item[1], item[2]))


def test_every_rule_has_a_bad_case() -> None:
    flagged = {found[0] for case in BAD_CASES for found in case[2]}
    assert flagged == {rule.id for rule in LOCAL_RULES}


CLEAN = [
    NAMED + "s3:\n  read_only:\n    - alpha-x/*\n    - alpha-x/folder/file.csv\n"
    "    - alpha-x/folder\n    - alpha-x/prefix*\n  deny:\n    - alpha-x/folder/secret.csv\n",
    NAMED + "cloudwatch_athena_query_executions: true\n",
    "iam_role_name: airflow_dev_cadet_x\nis_cadet_deployer: true\n",
    NAMED + "kms:\n"
    "  - arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\n"
    "  - arn:aws:kms:eu-west-2:123456789012:alias/my/key\n"
    "  - arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab\n"
    "  - arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abc\n",
    NAMED + "athena:\n  write: false\n",
    NAMED + "s3:\n  read_only:\n    - '*'\n    - alpha-*/x\n",  # wildcards: SEC002's
]


@pytest.mark.parametrize("text", CLEAN, ids=range(len(CLEAN)))
def test_clean_role_files(tmp_path: Path, text: str) -> None:
    assert check(tmp_path, text) == []


# iam_builder's good configs use placeholders its README and tests never deploy: bucket
# names with "_" (AWS has refused them since 2018) and KMS "ARNs" with no real region or
# account. Those, and only those, are flagged.
GOOD_EXCEPTIONS = {
    "airflow_dev_all_config": [("ROL013", 11, 7, E), ("ROL013", 14, 7, E), ("ROL013", 15, 7, E),
                               ("ROL013", 18, 7, E), ("ROL013", 19, 7, E), ("ROL015", 22, 5, E),
                               ("ROL015", 23, 5, E)],
    "airflow_dev_readme_example": [("ROL013", 13, 7, E), ("ROL013", 16, 7, E),
                                   ("ROL013", 17, 7, E), ("ROL013", 20, 7, E),
                                   ("ROL013", 21, 7, E), ("ROL013", 24, 7, E),
                                   ("ROL015", 27, 5, E)],
}


@pytest.mark.parametrize("fixture", sorted(GOOD.glob("*.yaml")), ids=lambda path: path.stem)
def test_good_role_files(tmp_path: Path, fixture: Path) -> None:
    write(tmp_path, "environments/dev/dags/example/run.py",
          f'ROLE = "{fixture.stem}"\nBasicKubernetesPodOperator(task_id="t", role=ROLE)\n')
    found = check(tmp_path, fixture.read_text(encoding="utf-8"), fixture.stem, RULES)
    assert found == GOOD_EXCEPTIONS.get(fixture.stem, [])


@pytest.mark.parametrize("found", LOCAL_RULES, ids=lambda found: found.id)
def test_doc_examples(tmp_path: Path, found: Rule) -> None:
    bad, bad_name = _doc_example(found.doc, "Bad")
    good, good_name = _doc_example(found.doc, "Good")
    assert found.id in {rule_id for rule_id, *_ in check(tmp_path / "bad", bad, bad_name)}
    assert check(tmp_path / "good", good, good_name) == []


MESSAGES = [
    ("s3:\n  read_only: [s3://alpha-x/data/*]\n", "write `alpha-x/data/*`"),
    ("s3:\n  read_only: ['arn:aws:s3:::alpha-x/*']\n", "iam_builder adds `arn:aws:s3:::`"),
    ("s3:\n  read_only: [My_Bucket/a/*]\n", "write `my-bucket/a/*`"),
    ("s3:\n  read_only: [ab/*]\n", "write it as `bucket/prefix/*`"),
    ("s3:\n  read_only: [alpha-x]\n", "write `alpha-x/*` for every object under it"),
    ("s3:\n  deny: [alpha-x/out/]\n", "denies nothing on the objects"),
    ("cloudwatch_athena_query_executions: false\n", "Remove the key"),
    ("kms: [1234abcd-12ab-34cd-56ef-1234567890ab]\n",
     "`arn:aws:kms:eu-west-1:<account>:key/1234abcd-12ab-34cd-56ef-1234567890ab`"),
    ("kms: [arn:aws:kms:eu-west-1:1234:key/x]\n", "found region 'eu-west-1', account '1234'"),
    (NAMED, "an empty Statement list"),
]


@pytest.mark.parametrize("text, fragment", MESSAGES)
def test_messages(tmp_path: Path, text: str, fragment: str) -> None:
    messages = [found.message for found in problems(tmp_path, text)]
    assert any(fragment in message for message in messages), messages


# -- ROL016: the role must be used --------------------------------------------------------

TASK = 'BasicKubernetesPodOperator(task_id="t", role=ROLE)\n'
GUIDE = ('username = "alice"\nROLE = f"airflow_dev_{username}_example"\n'
         'task = BasicKubernetesPodOperator(dag=dag, role=ROLE, task_id="task-1")\n')
USES: list[tuple[dict[str, str], bool]] = [
    # used: what the source gives a task, read without running it
    ({"environments/dev/dags/proj/run.py": f'ROLE = "{ROLE}"\n' + TASK}, True),
    ({"environments/dev/dags/proj/run.py":
      f'KubernetesPodOperator(task_id="t", service_account_name="{ROLE.replace("_", "-")}")\n'},
     True),
    ({"environments/dev/dags/proj/run.py": 'ENV = "dev"\nROLE = f"airflow_{ENV}_example"\n'
      + TASK}, True),
    ({"environments/dev/dags/proj/run.py": "ANNOTATIONS = {'iam.amazonaws.com/role': "
      f"'{ROLE}'}}\nKubernetesPodOperator(task_id='t', annotations=ANNOTATIONS)\n"}, True),
    ({"environments/dev/dags/proj/run.py": f'def pod(task_id, role="{ROLE}"):\n'
      '    return BasicKubernetesPodOperator(task_id=task_id, role=role)\npod("t")\n'}, True),
    ({"imports/proj_roles.py": f"ROLE = '{ROLE}'\n",
      "environments/dev/dags/proj/run.py": "from imports.proj_roles import ROLE\n" + TASK}, True),
    # cannot be decided: ROL016 cannot prove the role unused and stays silent
    ({"environments/dev/dags/proj/run.py": "BasicKubernetesPodOperator(role=get_role())\n"}, True),
    ({"environments/dev/dags/proj/run.py": "def broken(:\n"}, True),
    # not used
    ({"environments/dev/dags/proj/run.py": f'ROLE = "{ROLE}"\n'}, False),  # given to no task
    ({"environments/dev/dags/proj/run.py": f"# uses {ROLE}\n"}, False),  # a comment
    ({"imports/proj_roles.py": f"ROLES = ['{ROLE}']\n"}, False),  # a module no DAG imports
    ({"environments/dev/dags/proj/deep/er.py": f'ROLE = "{ROLE}"\n' + TASK}, False),  # no DAG
    ({"environments/prod/dags/proj/run.py": f'ROLE = "{ROLE}"\n' + TASK}, False),  # other env
    ({"environments/dev/dags/proj/run.py": f'ROLE = "{ROLE}_two"\n' + TASK}, False),
    ({"environments/dev/dags/proj/run.py": f'ROLE = "x{ROLE}"\n' + TASK}, False),
    ({"environments/dev/dags/proj/README.md": f"Role: {ROLE}\n"}, False),  # not code
]


@pytest.mark.parametrize("files, used", USES)
def test_unused_role(tmp_path: Path, files: dict[str, str], used: bool) -> None:
    for rel_path, text in files.items():
        write(tmp_path, rel_path, text)
    role = "# the example role\n" + NAMED + "s3:\n  read_only: [alpha-x/*]\n"
    expected = [] if used else [("ROL016", 2, 16, W)]
    assert check(tmp_path, role, rules=RULES) == expected


def test_the_guides_example_uses_its_f_string_role(tmp_path: Path) -> None:
    write(tmp_path, "environments/dev/dags/alice/copy_file_s3.py", GUIDE)
    role = "iam_role_name: airflow_dev_alice_example\ns3:\n  read_write:\n" \
        "    - alpha-everyone/airflow-example/*\n"
    assert check(tmp_path, role, "airflow_dev_alice_example", rules=RULES) == []
    write(tmp_path, "environments/dev/dags/alice/copy_file_s3.py",
          GUIDE.replace("_example", "_other"))
    assert check(tmp_path, role, "airflow_dev_alice_example", rules=RULES) == [
        ("ROL016", 1, 16, W)]


def test_unused_role_without_a_name_points_at_the_document(tmp_path: Path) -> None:
    found = problems(tmp_path, "s3:\n  read_only: [alpha-x/*]\n", rules=RULES)
    assert [(p.rule, p.line, p.column) for p in found] == [("ROL016", 1, 1)]
    assert "use it in a task (role=\"airflow_dev_example\") or delete the file" in found[0].message


def test_cross_file_rules_stay_quiet_without_the_context(tmp_path: Path) -> None:
    rel_path = f"environments/dev/roles/{ROLE}.yaml"
    write(tmp_path, rel_path, NAMED + "s3:\n  read_only: [alpha-x/*]\n")
    repo = scan_repo(tmp_path, ("dev", "prod"))
    facts = load_role(tmp_path, rel_path, "dev", ROLE)
    assert check_facts(Subject.ROLE, rel_path, facts, repo) == []


UNDECIDED_DAG = '''\
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

dag = DAG(dag_id="proj.run", start_date=datetime(2022, 1, 1), schedule_interval=None,
          default_args={{"owner": "proj"}})
BasicKubernetesPodOperator(dag=dag, task_id="t", role="airflow_dev_{role}".strip(),
                           repo_name="airflow-proj", release="v1.0.0")
'''


@pytest.mark.parametrize("used", ["proj_a", "proj_b"])
def test_a_dag_the_source_cannot_decide_is_decided_by_its_import_in_the_same_run(
        tmp_path: Path, used: str) -> None:
    """The role comes from a call (``.strip()``): only the import knows it. A run that
    imports the DAG checks the roles after it, with its facts (ROL016 on the unused
    role); a run of the role file alone, with no facts, cannot prove it unused."""
    from validation.config import Config
    from validation.run.runner import run

    write(tmp_path, "environments/dev/dags/proj/README.md", "# proj\n")
    write(tmp_path, "environments/dev/dags/proj/run.py", UNDECIDED_DAG.format(role=used))
    for stem in ("proj_a", "proj_b"):
        write(tmp_path, f"environments/dev/roles/airflow_dev_{stem}.yaml",
              "s3:\n  read_only: [alpha-x/*]\n")
    everything = run(tmp_path, [], everything=True, config=Config(), cwd=tmp_path)
    unused = "proj_b" if used == "proj_a" else "proj_a"
    assert [(p.path, p.rule) for p in everything.problems] == [
        (f"environments/dev/roles/airflow_dev_{unused}.yaml", "ROL016")]
    alone = run(tmp_path, [f"environments/dev/roles/airflow_dev_{unused}.yaml"],
                everything=False, config=Config(), cwd=tmp_path)
    assert alone.problems == []  # nothing decides what run.py uses: silent
