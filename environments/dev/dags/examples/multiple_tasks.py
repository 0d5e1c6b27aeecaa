"""Several tasks with dependencies: one task fans out to two, which fan back in to one.

    start-task >> [branch-a, branch-b] >> end-task
"""
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

IMAGE_TAG = "v0.0.1"
REPO_NAME = "airflow-example"

# Defined in environments/dev/roles/airflow_dev_examples.yaml
ROLE = "airflow_dev_examples"

# Every task of this DAG writes under this S3 prefix
OUTPUT_PREFIX = "s3://alpha-airflow-examples-dev/multiple_tasks"

default_args = {
    "depends_on_past": False,
    "email_on_failure": False,
    "owner": "examples",
}

dag = DAG(
    dag_id="examples.multiple_tasks",
    default_args=default_args,
    description="Tasks that fan out and fan back in",
    start_date=datetime(2022, 1, 1),
    # A cron expression: "minute hour day-of-month month day-of-week",
    # here 06:00 every Monday
    schedule_interval="0 6 * * 1",
    # Do not create a run for every missed week since start_date
    catchup=False,
)


def make_task(task_id, text):
    """One pod task writing `text` to <OUTPUT_PREFIX>/<task_id>.txt."""
    return BasicKubernetesPodOperator(
        dag=dag,
        run_as_user=1234,
        repo_name=REPO_NAME,
        release=IMAGE_TAG,
        role=ROLE,
        task_id=task_id,
        # A new dict for each task
        env_vars={
            "RUN": "write",
            "TEXT": text,
            "OUTPATH": f"{OUTPUT_PREFIX}/{task_id}.txt",
        },
    )


start_task = make_task("start-task", "First")
branch_a = make_task("branch-a", "Runs after start-task")
branch_b = make_task("branch-b", "Runs after start-task, alongside branch-a")
end_task = make_task("end-task", "Runs once branch-a and branch-b have both succeeded")

# `>>` sets the order: a list runs its tasks in parallel
start_task >> [branch_a, branch_b] >> end_task
