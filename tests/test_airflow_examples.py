"""Differential test against Airflow itself: the example DAGs shipped in the installed
apache-airflow package (airflow/example_dags/*.py), placed in a repository, give DAG001 or
DAG002 if and only if a plain DagBag over the same file, with the same metadata database,
reports an import error; and the validator finds as many DAGs in each as the DagBag does.

The DagBag runs in a child process with the platform-like settings and nothing of the
validator: no containment, no worker, the user's environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from validation.facts import DagFileFacts, LoadSettings
from validation.loaders.dag.dags import DagFileRequest, load_python_files
from validation.loaders.dag.metadata import connection_url, metadata_db
from validation.loaders.source_dags import source_dags

# Found without importing Airflow: the validator points Airflow at its metadata database
# before the first import, as a run does.
EXAMPLES = Path(str(importlib.util.find_spec("airflow").origin)).parent / "example_dags"
PROJECT = "environments/dev/dags/airflow_examples"
# One DagBag per file, as the scheduler's parser does: did it fail, how many DAGs it
# holds (not counting subdags, which the validator does not count either; the list
# process_file returns may name a DAG twice).
DAGBAG = """
import json, sys
from airflow.models import DagBag
found = {}
for path in sys.argv[1:]:
    bag = DagBag(dag_folder="/dev/null", include_examples=False, read_dags_from_db=False)
    bag.process_file(path, only_if_updated=False, safe_mode=False)
    found[path] = [path in bag.import_errors,
                   len([d for d in bag.dags.values() if d.parent_dag is None])]
print(json.dumps(found))
"""


def _examples() -> list[Path]:
    return sorted(path for path in EXAMPLES.glob("*.py") if path.name != "__init__.py")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("examples")
    (root / PROJECT).mkdir(parents=True)
    for path in _examples():
        shutil.copy(path, root / PROJECT / path.name)
    return root


@pytest.fixture(scope="module")
def validator(repo: Path) -> dict[str, DagFileFacts]:
    requests = [DagFileRequest(f"{PROJECT}/{path.name}", "dev", "airflow_examples", path.stem)
                for path in _examples()]
    dags, _ = load_python_files(str(repo), requests, [], LoadSettings(timeout=30))
    return {path.rsplit("/", 1)[1]: facts for path, facts in dags.items()}


@pytest.fixture(scope="module")
def dagbag(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[object]]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": connection_url(metadata_db()),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "environments"),
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "CRITICAL", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    paths = [str(repo / PROJECT / path.name) for path in _examples()]
    result = subprocess.run([sys.executable, "-c", DAGBAG, *paths], cwd=home, env=env,
                            capture_output=True, text=True, timeout=600, check=True)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return {path.rsplit("/", 1)[1]: outcome for path, outcome in found.items()}


def test_every_example_is_compared() -> None:
    assert len(_examples()) > 30


@pytest.mark.parametrize("name", [path.name for path in _examples()])
def test_the_validator_fails_an_example_iff_airflow_does(
        name: str, validator: dict[str, DagFileFacts], dagbag: dict[str, list[object]]) -> None:
    facts = validator[name]
    failed, dags = dagbag[name]
    problem = facts.import_error or facts.crash
    assert (problem is not None, len(facts.registered_dags)) == (failed, dags), problem


# -- the source reading (what the rules check when an import fails) against the import ---


def test_what_the_source_shows_of_an_example_is_what_its_import_made(
        repo: Path, validator: dict[str, DagFileFacts]) -> None:
    """validation.loaders.source_dags on each example that imports: every DAG it reads is
    one the import made, with that dag_id, and every task it reads is one of the import's
    (a TaskGroup prefixes the id), with the same role. So a file that fails to import is
    checked on what it would have made."""
    read_dags = read_tasks = 0
    for name, facts in validator.items():
        if not facts.imported:
            continue
        dags, tasks = source_dags((repo / PROJECT / name).read_text(), lambda path: None)
        made = {dag.dag_id for dag in facts.dags}
        assert {dag.dag_id for dag in dags} <= made, name
        imported = [task for dag in facts.dags for task in dag.tasks]
        for task in tasks:
            same = [t for t in imported
                    if t.task_id == task.task_id or t.task_id.endswith(f".{task.task_id}")]
            assert same, (name, task.task_id)
            assert task.role is None or task.role in {t.role for t in same}, (name, task)
        read_dags, read_tasks = read_dags + len(dags), read_tasks + len(tasks)
    assert (read_dags, read_tasks) >= (30, 100)  # the reading is exercised, not vacuous
