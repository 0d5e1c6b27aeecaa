import ctypes
import gc
import os

# The audit-hook guard is Python in the same process: switch it off, so that what
# stops this file is the kernel (Landlock, seccomp, rlimits), nothing else.
for thing in gc.get_objects():
    if type(thing).__name__ == "Guard":
        thing.armed = False
libc = ctypes.CDLL(None, use_errno=True)

# Write, create, rename, remove and change outside the child's folder, the ways the
# guard used to miss: libc, dir_fd, opener, mknod, mkfifo, symlink, rename, chmod.
for folder in ("{OUTSIDE}", "{REPO}", "{HOME}", "{AIRFLOW_HOME}"):
    target = os.path.join(folder, "planted")
    libc.open(target.encode(), os.O_WRONLY | os.O_CREAT, 0o644)
    for attempt in (
        lambda: os.open("planted_dir_fd", os.O_WRONLY | os.O_CREAT,
                        dir_fd=os.open(folder, os.O_RDONLY)),
        lambda: open("planted_opener", "w",
                     opener=lambda name, flags: os.open(os.path.join(folder, name), flags)),
        lambda: os.mkfifo(target + ".fifo"),
        lambda: os.mknod(target + ".node"),
        lambda: os.symlink("/etc/passwd", target + ".link"),
    ):
        try:
            attempt()
        except OSError:
            pass
libc.rename(b"{REPO}/setup.cfg", b"{REPO}/setup.cfg.moved")
libc.unlink(b"{REPO}/imports/__init__.py")
libc.chmod(b"{REPO}/setup.cfg", 0o777)
libc.truncate(b"{REPO}/setup.cfg", 0)


from datetime import datetime  # noqa: E402

from airflow.models import DAG  # noqa: E402
from mojap_airflow_tools.operators import BasicKubernetesPodOperator  # noqa: E402

dag = DAG(
    dag_id="hostile.kernel_write",
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
