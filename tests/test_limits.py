"""The worker's memory limit (memory_limit_mb): a file that asks for more is DAG002 and the
run goes on; without the limit the same file imports."""

from __future__ import annotations

from pathlib import Path

from validation.facts import LoadSettings
from validation.loaders.dag.dags import DagFileRequest, load_python_files

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"
MAPS = DagFileRequest("environments/dev/dags/crashes/maps_memory.py", "dev", "crashes",
                      "maps_memory")
CLEAN = DagFileRequest("environments/dev/dags/clean/clean_dag.py", "dev", "clean", "clean_dag")


def test_a_file_over_the_memory_limit_is_a_crash_and_the_next_file_is_loaded() -> None:
    dags, _ = load_python_files(str(FIXTURE), [MAPS, CLEAN], [],
                                LoadSettings(timeout=10, memory_limit_mb=2048), 1)
    crash = dags[MAPS.path].crash
    assert crash is not None
    assert (crash.kind, crash.line) == ("memory", 4)
    assert "memory limit of 2048 MB" in crash.message
    assert dags[CLEAN.path].crash is None
    assert [dag.dag_id for dag in dags[CLEAN.path].dags] == ["clean.clean_dag"]


def test_without_a_limit_the_same_file_imports() -> None:
    dags, _ = load_python_files(str(FIXTURE), [MAPS], [],
                                LoadSettings(timeout=10, memory_limit_mb=0), 1)
    assert (dags[MAPS.path].crash, dags[MAPS.path].import_error) == (None, None)
