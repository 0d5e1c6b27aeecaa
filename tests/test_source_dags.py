"""When a DAG file fails to import, its source still speaks (issue 11, item 7), and a
missing role's hint names where the role was written (item 8).

The guide's example, pasted as its steps say, fails on its trailing comma; the same run
shows the dag_id it must change, read from the source. Once the file imports, the same
problem comes from the import, once. The reading itself is checked against Airflow in
tests/test_airflow_examples.py: what it reads of a file that imports is what the import made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from validation.cli import main
from validation.loaders.source_dags import source_dags

GUIDE = Path(__file__).resolve().parent / "fixtures" / "guide"
GUIDE_DAG = "environments/dev/dags/alice/copy_file_s3.py"
FROM_SOURCE = "(read from the source: the file did not import)"


def _cli(capsys: pytest.CaptureFixture[str], root: Path, path: str, *argv: str
         ) -> tuple[int, list[str]]:
    code = main(["--root", str(root), "--no-cache", "--dag-timeout", "20", str(root / path),
                 *argv])
    out, _ = capsys.readouterr()
    return code, [line for line in out.splitlines() if line.startswith("environments/")]


def _found(lines: list[str], path: str) -> list[tuple[str, str]]:
    """(line:column, rule) of each problem of ``path``."""
    return [(line.split(":")[1] + ":" + line.split(":")[2], line.split()[1])
            for line in lines if line.startswith(f"{path}:")]


def _write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    shutil.copytree(GUIDE, tmp_path / "repo")
    return tmp_path / "repo"


# -- the guide's example: one run, not three ----------------------------------------------


def test_the_guides_example_before_its_comma_is_fixed_shows_the_dag_id(
        capsys: pytest.CaptureFixture[str], guide: Path) -> None:
    code, lines = _cli(capsys, guide, GUIDE_DAG)
    assert code == 1
    assert _found(lines, GUIDE_DAG) == [("0:0", "STR006"), ("30:12", "DAG005"),
                                        ("58:8", "DAG001")]
    [dag_id] = [line for line in lines if " DAG005 " in line]
    assert dag_id.endswith("dag_id 'alice.write_to_s3' should be 'alice.copy_file_s3' "
                           f"(<project folder>.<file name>) {FROM_SOURCE}")


def test_once_the_file_imports_the_same_problem_comes_from_the_import_once(
        capsys: pytest.CaptureFixture[str], guide: Path) -> None:
    dag = guide / GUIDE_DAG
    dag.write_text(dag.read_text().replace("\n},\n", "\n}\n"))
    _, lines = _cli(capsys, guide, GUIDE_DAG)
    assert _found(lines, GUIDE_DAG) == [("0:0", "STR006"), ("30:12", "DAG005")]
    assert FROM_SOURCE not in "\n".join(lines)


def test_every_literal_problem_of_a_broken_file_in_one_run(
        capsys: pytest.CaptureFixture[str], guide: Path) -> None:
    """A misspelt role, a task_id the guide refuses (mojap takes '.', so the import goes
    on to the comma) and a 6-field cron, beside the comma."""
    dag = guide / GUIDE_DAG
    dag.write_text(dag.read_text()
                   .replace('ROLE = f"airflow_dev_{username}_example"',
                            'ROLE = f"airflow_dev_{username}_exampel"')
                   .replace('task_id = "task-1"', 'task_id = "task.1"')
                   .replace("schedule_interval=None", 'schedule_interval="0 0 * * * *"'))
    _, lines = _cli(capsys, guide, GUIDE_DAG)
    assert _found(lines, GUIDE_DAG) == [
        ("0:0", "STR006"), ("30:12", "DAG005"), ("38:23", "DAG012"), ("58:8", "DAG001"),
        ("63:10", "DAG007"), ("64:13", "DAG006")]
    by_rule = {line.split()[1]: line for line in lines}
    assert "role 'airflow_dev_alice_exampel' of task 'task.1' has no role file" \
        in by_rule["DAG007"]
    assert "(did you mean 'airflow_dev_alice_example'?)" in by_rule["DAG007"]
    assert "'0 0 * * * *' has 6 fields, not 5" in by_rule["DAG012"]
    assert all(by_rule[rule].endswith(FROM_SOURCE) for rule in ("DAG005", "DAG006",
                                                                "DAG007", "DAG012"))
    assert "[*]" in by_rule["DAG006"]  # the task_id literal can be mended


def test_a_broken_file_with_good_literals_has_its_import_error_only(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = "environments/dev/dags/proj/report.py"
    _write(tmp_path, {
        "environments/dev/dags/proj/README.md": "# proj\n",
        "environments/dev/roles/airflow_dev_proj.yaml": "s3:\n  read_only:\n    - alpha-proj/*\n",
        path: BROKEN.format(dag_id="proj.report", task_id="run-report", role="airflow_dev_proj",
                            schedule="@daily")})
    _, lines = _cli(capsys, tmp_path, path)
    assert _found(lines, path) == [("11:1", "DAG001")]


BROKEN = '''\
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

ROLE = "{role}"
dag = DAG(dag_id="{dag_id}", start_date=datetime(2022, 1, 1), schedule_interval="{schedule}",
          default_args={{"owner": "proj"}})
task = BasicKubernetesPodOperator(dag=dag, task_id="{task_id}", role=ROLE,
                                  repo_name="airflow-proj", release="v1.0.0")
raise RuntimeError("the file fails after its calls")
'''


def test_a_task_id_mojap_refused_is_reported_once(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    path = "environments/dev/dags/proj/report.py"
    text = BROKEN.format(dag_id="proj.report", task_id="run_report", role="airflow_dev_proj",
                         schedule="@daily").replace('raise RuntimeError("the file fails after '
                                                    'its calls")\n', "")
    _write(tmp_path, {"environments/dev/dags/proj/README.md": "# proj\n",
                      "environments/dev/roles/airflow_dev_proj.yaml":
                          "s3:\n  read_only:\n    - alpha-proj/*\n", path: text})
    _, lines = _cli(capsys, tmp_path, path)
    assert _found(lines, path) == [("9:52", "DAG006")]  # from the import's error, once


# -- the reading: what it reads, what it leaves --------------------------------------------


def _modules(path: str) -> str | None:
    return None


def test_the_guides_example_is_read_as_the_import_would_make_it() -> None:
    dags, tasks = source_dags((GUIDE / GUIDE_DAG).read_text(), _modules)
    assert [(dag.dag_id, dag.line, dag.schedule_kind, dag.from_source) for dag in dags] == [
        ("alice.write_to_s3", 27, "none", True)]
    assert [(t.task_id, t.operator, t.is_pod, t.mojap, t.role, t.role_source, t.line)
            for t in tasks] == [("task-1", "BasicKubernetesPodOperator", True, True,
                                 "airflow_dev_alice_example", "annotation", 58)]


@pytest.mark.parametrize("text", [
    # made in a function: whoever calls it decides
    "from airflow import DAG\ndef make(name):\n    return DAG(dag_id=name)\n",
    # a value computed by a call, or bound twice
    "from airflow import DAG\nimport os\nDAG(dag_id=os.environ['X'])\n",
    "from airflow import DAG\nX = 'a'\nX = 'b'\nDAG(dag_id=X)\n",
    # a loop variable
    "from airflow.operators.empty import EmptyOperator\n"
    "for n in range(3):\n    EmptyOperator(task_id=f'load_{n}')\n",
    # a DAG class nobody imported from Airflow
    "class DAG:\n    pass\nDAG(dag_id='x')\n",
    # does not parse
    "DAG(dag_id='x'\n",
])
def test_what_cannot_be_decided_is_not_read(text: str) -> None:
    assert source_dags(text, _modules) == ([], [])


def test_values_come_from_constants_f_strings_and_imports_modules() -> None:
    text = ("from airflow.models import DAG\nfrom airflow.providers.cncf.kubernetes.operators."
            "kubernetes_pod import KubernetesPodOperator as Pod\nfrom imports import shared\n"
            "ENV = 'dev'\nwith DAG(f'team.{shared.NAME}', schedule=None) as dag:\n"
            "    Pod(task_id='t' + '1', annotations={'iam.amazonaws.com/role': "
            "f'airflow_{ENV}_team'})\n"
            "    Pod(task_id='t2', service_account_name='airflow-dev-team')\n")
    modules = {"imports/shared.py": "NAME = 'report'\n"}
    dags, tasks = source_dags(text, modules.get)
    assert [dag.dag_id for dag in dags] == ["team.report"]
    assert [(t.task_id, t.operator, t.mojap, t.role, t.role_source) for t in tasks] == [
        ("t1", "KubernetesPodOperator", False, "airflow_dev_team", "annotation"),
        ("t2", "KubernetesPodOperator", False, "airflow_dev_team", "service_account")]


# -- item 8: a missing role's hint ---------------------------------------------------------

ROLE_TEXT = "s3:\n  read_only:\n    - alpha-proj/*\n"


def _dag_using(role: str) -> str:
    return BROKEN.format(dag_id="dave.pipeline", task_id="run", role=role, schedule="@daily"
                         ).replace('raise RuntimeError("the file fails after its calls")\n', "")


@pytest.mark.parametrize(("files", "hint"), [
    # another project's role is no suggestion, however close its name
    ({"environments/dev/roles/airflow_dev_bob_glue.yaml": ROLE_TEXT},
     "has no role file environments/dev/roles/airflow_dev_dave_pipeline.yaml: add it or use "
     "an existing role"),
    # a close name of this project is
    ({"environments/dev/roles/airflow_dev_dave_pipelines.yaml": ROLE_TEXT},
     "(did you mean 'airflow_dev_dave_pipelines'?): add it or use an existing role"),
    # written with another extension
    ({"environments/dev/roles/airflow_dev_dave_pipeline.yml": ROLE_TEXT},
     ": environments/dev/roles/airflow_dev_dave_pipeline.yml exists, but role files must end "
     ".yaml: rename it to airflow_dev_dave_pipeline.yaml"),
    # put in the other environment's folder
    ({"environments/prod/roles/airflow_dev_dave_pipeline.yaml": ROLE_TEXT},
     ": environments/prod/roles/airflow_dev_dave_pipeline.yaml exists, in the prod "
     "environment's folder: a dev DAG's role belongs in environments/dev/roles/"),
])
def test_a_missing_roles_hint_names_where_it_was_written(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str],
        hint: str) -> None:
    path = "environments/dev/dags/dave/pipeline.py"
    _write(tmp_path, {**files, "environments/dev/dags/dave/README.md": "# dave\n",
                      path: _dag_using("airflow_dev_dave_pipeline")})
    _, lines = _cli(capsys, tmp_path, path, "--select", "DAG007")
    [problem] = lines
    assert problem.startswith(f"{path}:9:64: DAG007 [role-missing] role "
                              "'airflow_dev_dave_pipeline' of task 'run' has no role file")
    assert problem.endswith(hint)


def test_a_role_that_exists_has_no_hint(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    path = "environments/dev/dags/dave/pipeline.py"
    _write(tmp_path, {"environments/dev/roles/airflow_dev_dave_pipeline.yaml": ROLE_TEXT,
                      path: _dag_using("airflow_dev_dave_pipeline")})
    assert _cli(capsys, tmp_path, path, "--select", "DAG007") == (0, [])
