import airflow.models.dag
import mojap_airflow_tools.operators

airflow.models.dag.DAG.add_task = lambda self, task: None
mojap_airflow_tools.operators.BasicKubernetesPodOperator = None
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator


dag = DAG(
    dag_id="hostile.patches_airflow",
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
