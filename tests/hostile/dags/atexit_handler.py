import atexit
import os

atexit.register(os.system, "touch {OUTSIDE}/atexit_ran")
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator


dag = DAG(
    dag_id="hostile.atexit_handler",
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
