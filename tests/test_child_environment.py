"""What a DAG file sees of the machine in its child is what an unconfined process sees,
whatever the validator does to make the import cheaper (validation.loaders.dag.worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAG = '''
import multiprocessing
import os
from datetime import datetime

from airflow.models import DAG

dag = DAG(dag_id=f"cpus.{os.cpu_count()}.{multiprocessing.cpu_count()}",
          start_date=datetime(2022, 1, 1), schedule_interval=None)
'''
# Run with one CPU allowed: a locked-down child may not read /sys/devices/system/cpu/online
# or /proc/stat, and glibc, asked for the CPU count, then counts the CPUs the process may
# run on; an unconfined process (the platform's parser) counts the machine's.
RUN = '''
import json, os, sys
from validation.facts import LoadSettings
from validation.loaders.dag.supervisor import run_jobs
from validation.loaders.dag.worker import Job
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
path = sys.argv[2]
outcomes, _ = run_jobs(sys.argv[1], {path: Job(path, "dag")}, LoadSettings(timeout=10.0), 1,
                       allow_weak=True)
outcome = outcomes[path]
print(json.dumps([outcome.import_error is None and outcome.crash is None,
                  [dag.dag_id for dag in outcome.dags]]))
'''


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2,
                    reason="needs two CPUs and sched_setaffinity")
def test_the_cpu_count_a_file_reads_is_the_machines(tmp_path: Path) -> None:
    path = tmp_path / "environments" / "dev" / "dags" / "cpus" / "cpus.py"
    path.parent.mkdir(parents=True)
    path.write_text(DAG, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path), str(path)],
                          capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    imported, dag_ids = json.loads(done.stdout.splitlines()[-1])
    count = os.cpu_count()
    assert imported and dag_ids == [f"cpus.{count}.{count}"]


GC_DAG = '''
import gc
from datetime import datetime

from airflow.models import DAG

dag = DAG(dag_id=f"gc.{int(gc.isenabled())}.{int(gc.get_freeze_count() > 0)}",
          start_date=datetime(2022, 1, 1), schedule_interval=None)
'''


def test_a_file_imports_with_garbage_collection_on_and_airflows_objects_frozen(
        tmp_path: Path) -> None:
    """The zygote imports Airflow with the collector off (validation.loaders.dag.zygote),
    then freezes what it made: a file's child collects its own garbage, as Airflow's
    parser process does, and never walks Airflow's objects."""
    from validation.facts import LoadSettings
    from validation.loaders.dag.supervisor import run_jobs
    from validation.loaders.dag.worker import Job

    path = tmp_path / "environments" / "dev" / "dags" / "gc" / "gc.py"
    path.parent.mkdir(parents=True)
    path.write_text(GC_DAG, encoding="utf-8")
    outcomes, _ = run_jobs(str(tmp_path), {str(path): Job(str(path), "dag")},
                           LoadSettings(timeout=10.0), 1, allow_weak=True)
    outcome = outcomes[str(path)]
    assert outcome.import_error is None and outcome.crash is None
    assert [dag.dag_id for dag in outcome.dags] == ["gc.1.1"]
