"""What a DAG file sees of the machine in its child is what an unconfined process sees,
whatever the validator does to make the import cheaper (validation.loaders.dag.worker)."""

from __future__ import annotations

import os
from pathlib import Path

from validation.facts import LoadSettings
from validation.loaders.dag.supervisor import run_jobs
from validation.loaders.dag.worker import Job

DAG = '''
import multiprocessing
import os
from datetime import datetime

from airflow.models import DAG

dag = DAG(dag_id=f"cpus.{os.cpu_count()}.{multiprocessing.cpu_count()}.{os.cpu_count()}",
          start_date=datetime(2022, 1, 1), schedule_interval=None)
'''


def test_the_cpu_count_a_file_reads_is_the_machines(tmp_path: Path) -> None:
    path = tmp_path / "environments" / "dev" / "dags" / "cpus" / "cpus.py"
    path.parent.mkdir(parents=True)
    path.write_text(DAG, encoding="utf-8")
    outcomes, _ = run_jobs(str(tmp_path), {str(path): Job(str(path), "dag")},
                           LoadSettings(timeout=10.0), 1, allow_weak=True)
    outcome = outcomes[str(path)]
    assert outcome.import_error is None and outcome.crash is None
    count = os.cpu_count()
    assert [dag.dag_id for dag in outcome.dags] == [f"cpus.{count}.{count}.{count}"]
