"""Use a shared module from imports/: constants and a helper function.

The module's name starts with this DAG's folder name ("examples_"), so it is
clear which project it belongs to.
"""
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator

from imports.examples_constants import DEFAULT_ARGS, IMAGE_TAG, REPO_NAME, make_env_vars

# The role stays in the DAG file: it differs between environments.
# Defined in environments/prod/roles/airflow_prod_examples.yaml
ROLE = "airflow_prod_examples"

# Using `with`, the DAG is the default for the operators created inside the block
# (BasicKubernetesPodOperator still needs dag=dag)
with DAG(
    dag_id="examples.use_imports",
    default_args=DEFAULT_ARGS,
    description="Use constants and a function from imports/",
    start_date=datetime(2022, 1, 1),
    # A preset: once a day at midnight
    schedule_interval="@daily",
    catchup=False,
) as dag:
    task = BasicKubernetesPodOperator(
        dag=dag,
        run_as_user=1234,
        repo_name=REPO_NAME,
        release=IMAGE_TAG,
        role=ROLE,
        task_id="use-imports",
        env_vars=make_env_vars(
            text="Hello from a shared module",
            outpath="s3://alpha-airflow-examples-prod/use_imports/test.txt",
        ),
    )
