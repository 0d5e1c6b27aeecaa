"""The basic example: one task that runs a docker image which writes a file to S3."""
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

# As defined in the image repo: a pinned release, never "latest"
IMAGE_TAG = "v0.0.1"
REPO_NAME = "airflow-example"

"""
The role used by Airflow to run a task. This role must be specified
in the corresponding `roles/` folder in the same environment
(i.e. the role is defined in environments/prod/roles/airflow_prod_examples_write_to_s3.yaml)
"""
ROLE = "airflow_prod_examples_write_to_s3"

default_args = {
    # Normally you want to set this to False.
    "depends_on_past": False,
    "email_on_failure": False,
    # Name of DAG owner as it will appear on Airflow UI
    "owner": "examples",
}

dag = DAG(
    # Name of the dag (how it will appear on the Airflow UI)
    # We use the naming convention: <folder_name>.<filename>
    dag_id="examples.write_to_s3",
    default_args=default_args,
    description="A basic Kubernetes DAG",
    # Requires a start_date as a datetime object. This will be when the
    # DAG will start running from. DO NOT use datetime.now().
    start_date=datetime(2022, 1, 1),
    # How often should I run the dag. If set to None your dag
    # will only run when manually triggered.
    schedule_interval=None,
)

# Environmental variables for passing to the docker container.
# Note: no comma after the closing brace, or env_vars becomes a tuple.
env_vars = {
    "AWS_METADATA_SERVICE_TIMEOUT": "60",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "5",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "RUN": "write",
    "TEXT": "Hello",
    # The role above grants write access to this prefix only
    "OUTPATH": "s3://alpha-airflow-examples-prod/write_to_s3/test.txt",
}

"""
It is good practice to set task_id as a variable above your task
because it is used for both the name and task_id parameters.
You should also only use alpha numerical characters and dashes (-)
for the task_id value.
"""
task_id = "task-1"
task = BasicKubernetesPodOperator(
    dag=dag,
    run_as_user=1234,
    repo_name=REPO_NAME,
    release=IMAGE_TAG,
    role=ROLE,
    task_id=task_id,
    env_vars=env_vars,
)

task
