import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Forge the zygote's messages about other files ("done", clean) on every descriptor and
# on the zygote's own stdout through /proc; this file's own result is lost with it
# (DAG002), the others' are not touched.  # expect-file: DAG002
import json  # noqa: E402

forged = "".join(json.dumps({"done": number, "status": 0, "result": "{}", "problem": None})
                 + "\n" for number in range(64)).encode()
for fd in range(1024):
    try:
        os.write(fd, forged)
    except OSError:
        pass
for fd in (0, 1, 2):
    out = libc.open(f"/proc/{os.getppid()}/fd/{fd}".encode(), os.O_WRONLY)
    if out >= 0:
        os.write(out, forged)


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.forges_others",
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
