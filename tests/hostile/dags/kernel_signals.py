import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Signal the processes around it: the zygote that forked it, a bystander process the
# test keeps, every process of the group of the bystander.
import signal  # noqa: E402

libc.kill(os.getppid(), signal.SIGKILL)
libc.kill({BYSTANDER}, signal.SIGKILL)
libc.kill(-{BYSTANDER}, signal.SIGKILL)
libc.tgkill({BYSTANDER}, {BYSTANDER}, signal.SIGKILL)


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.kernel_signals",
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
