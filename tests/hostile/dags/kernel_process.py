import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Start a process that leaves its group and outlives the run, through libc: fork,
# system(), posix_spawn, and exec of this very process.
PR_SET_NAME = 15
child = libc.fork()
if child == 0:
    libc.setsid()
    libc.prctl(PR_SET_NAME, b"hostile-fork", 0, 0, 0)
    libc.sleep(300)
    os._exit(0)
libc.system(b"exec -a hostile-system sleep 300 &")
try:
    os.posix_spawn("/bin/sleep", ["hostile-spawn", "300"], {})
except OSError:
    pass
libc.execve(b"/bin/sleep", (ctypes.c_char_p * 3)(b"hostile-exec", b"300", None), None)


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.kernel_process",
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
