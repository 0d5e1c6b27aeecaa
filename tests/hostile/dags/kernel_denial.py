import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Raise its own limits, fill the disk: the limits are hard and the kernel keeps them.
import resource  # noqa: E402
import signal  # noqa: E402


class Rlimit(ctypes.Structure):
    _fields_ = [("soft", ctypes.c_uint64), ("hard", ctypes.c_uint64)]


before = resource.getrlimit(resource.RLIMIT_AS)
unlimited = Rlimit(resource.RLIM_INFINITY, resource.RLIM_INFINITY)
for which in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE):
    libc.prlimit(0, which, ctypes.byref(unlimited), None)
    libc.setrlimit(which, ctypes.byref(unlimited))
if resource.getrlimit(resource.RLIMIT_AS) != before or before[0] == resource.RLIM_INFINITY:
    raise ValueError("the memory limit was raised")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
try:
    with open("filler", "wb") as handle:
        handle.seek(1024 ** 3)
        handle.write(b"x")
    raise ValueError("a 1 GB file was written")
except OSError:
    pass


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.kernel_denial",
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
