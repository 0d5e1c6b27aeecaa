import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Reach the listeners the test keeps on 127.0.0.1 (TCP and UDP) and the outside world.
import socket  # noqa: E402

for attempt in (
    lambda: socket.create_connection(("127.0.0.1", {TCP_PORT})).sendall(b"CANARY"),
    lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
        b"CANARY", ("127.0.0.1", {UDP_PORT})),
    lambda: socket.create_connection(("1.1.1.1", 53), timeout=1),
    lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind("\0hostile"),
):
    try:
        attempt()
    except OSError:
        pass


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.kernel_network",
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
