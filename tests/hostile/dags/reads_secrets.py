import os

# The test sets these in the validator's environment: the worker must not see them.
for name in ("AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN",
             "HOSTILE_PASSWORD", "MY_API_KEY"):
    if name in os.environ:
        raise ValueError(f"{name} leaked into the worker")
if os.environ.get("HOSTILE_ALLOWED") != "yes":
    raise ValueError("env_allowlist was not applied")
if os.environ.get("HOME") == "{HOME}" or os.getcwd().startswith("{REPO}"):
    raise ValueError("HOME or the working directory is not a temporary folder")
for path in ("/proc/self/environ", f"/proc/{os.getppid()}/environ", "/proc/1/cmdline"):
    try:
        with open(path, "rb") as handle:
            if b"hostile-secret" in handle.read():
                raise ValueError(f"a secret leaked through {path}")
    except PermissionError:
        pass
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator


dag = DAG(
    dag_id="hostile.reads_secrets",
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
