import os
import resource
import sys

# 450 MB of output: it goes to /dev/null, so the worker's memory does not grow with it.
LINE = "x" * (1024 * 1024)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(150):
    print(LINE)
    print(LINE, file=sys.stderr)
    os.write(1, LINE.encode())
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
if grown > 100 * 1024:
    raise MemoryError(f"the output was kept in memory: {grown} kB more")
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator


dag = DAG(
    dag_id="hostile.output_flood",
    default_args={"owner": "hostile"},
    start_date=datetime(2022, 1, 1),
    schedule_interval=None,
)
BasicKubernetesPodOperator(
    dag=dag,
    repo_name="hostile",
    release="v1.0.0",
    role="airflow_dev_hostile",
    task_id="task-1",
)
