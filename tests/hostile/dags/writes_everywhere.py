import os
import pathlib
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROLES = os.path.join(HERE, "..", "..", "roles")
ATTEMPTS = [
    lambda: open(os.path.join(HERE, "written.txt"), "w"),
    lambda: open(__file__, "a"),
    lambda: os.open(__file__, os.O_WRONLY | os.O_TRUNC),
    lambda: os.truncate(__file__, 0),
    lambda: os.remove(__file__),
    lambda: os.rename(__file__, __file__ + ".moved"),
    lambda: os.replace(os.path.join(ROLES, "airflow_dev_hostile.yaml"), __file__),
    lambda: os.chmod(__file__, 0o777),
    lambda: os.chmod(os.open(__file__, os.O_RDONLY), 0o777),
    lambda: os.utime(os.open(__file__, os.O_RDONLY), (0, 0)),
    lambda: os.utime(__file__, (0, 0)),
    lambda: os.mkdir(os.path.join(HERE, "new_folder")),
    lambda: os.symlink("/etc/passwd", os.path.join(HERE, "link.py")),
    lambda: os.link(__file__, "hard_link.py"),
    lambda: pathlib.Path(ROLES, "airflow_dev_new.yaml").write_text("x: 1"),
    lambda: shutil.rmtree(ROLES),
    lambda: shutil.copy("/etc/hostname", HERE),
    lambda: open("{HOME}/written.txt", "w"),
    lambda: open("{AIRFLOW_HOME}/airflow.cfg", "w"),
    lambda: os.remove("{AIRFLOW_HOME}/airflow.cfg"),
    lambda: open("{OUTSIDE}/written.txt", "w"),
]
for attempt in ATTEMPTS:
    try:
        attempt()
    except PermissionError:
        pass
    else:
        raise ValueError("a write outside the temporary folder was allowed")
# Relative writes, HOME and TMPDIR are the worker's temporary folder: allowed.
with open("relative.txt", "w") as handle:
    handle.write("x")
pathlib.Path(os.path.expanduser("~/in_home.txt")).write_text("x")
os.makedirs("a/b", exist_ok=True)
os.remove("relative.txt")
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator


dag = DAG(
    dag_id="hostile.writes_everywhere",
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
try:
    os.rmdir(os.getcwd())  # the worker's own folder: refused, the next file needs it
except (PermissionError, OSError):
    pass
