"""One task on a high-memory node, for work that holds a large data set in memory.

High-memory nodes are expensive and have to be provisioned before the pod starts:
only use one after the task has failed on a standard node.
"""
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

# The toleration and node affinity that select a high-memory node
from imports.examples_high_memory import affinity, tolerations

IMAGE_TAG = "v0.0.1"
REPO_NAME = "airflow-example"

# Defined in environments/dev/roles/airflow_dev_examples.yaml
ROLE = "airflow_dev_examples"

default_args = {
    "depends_on_past": False,
    "email_on_failure": False,
    "owner": "examples",
}

dag = DAG(
    dag_id="examples.use_high_memory_node",
    default_args=default_args,
    description="Run a task on a high-memory node",
    start_date=datetime(2022, 1, 1),
    # Manual runs only: the number of high-memory nodes is limited
    schedule_interval=None,
)

# BasicKubernetesPodOperator adds the AWS_* defaults shown in write_to_s3.py
env_vars = {
    "RUN": "write",
    "TEXT": "Hello from a high-memory node",
    "OUTPATH": "s3://alpha-airflow-examples-dev/use_high_memory_node/test.txt",
}

task_id = "high-memory-task"
task = BasicKubernetesPodOperator(
    dag=dag,
    run_as_user=1234,
    repo_name=REPO_NAME,
    release=IMAGE_TAG,
    role=ROLE,
    task_id=task_id,
    env_vars=env_vars,
    # Increase startup time to give time for node creation
    startup_timeout_seconds=600,
    tolerations=tolerations,
    affinity=affinity,
)

task
