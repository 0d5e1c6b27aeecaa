"""The five figures of issue 4, on a generated repository, against what people run today.

    .venv/bin/python benchmarks/speed.py [--dags 300] [--runs 5] [--seed 4] [--keep DIR]
        [--only 1,2] [--compare CHECKOUT]

Generates a repository into a temporary folder (a seeded mix of small DAGs and large ones
built in loops with 50 to 300 pod tasks each, a role per project, a few imports modules),
checks that the validator finds nothing in it, then measures whole processes (median of
--runs runs, each ratio from the same run of this script):

1. ``validation --all`` cold (--no-cache) / a DagBag integrity test (one DagBag over
   environments/, assert no import errors, then iam_builder on every role), the two run
   by turns (ours, theirs, theirs, ours, ...); with ``--compare CHECKOUT``, the
   validator of that checkout too (PYTHONPATH selects it, the zygote's included), by
   turns with them: a before/after measured in the same phase of a shared machine;
2. ``validation --all`` with a warm cache / ``python -c "import airflow"``;
3. one small DAG file, cold / ``python -c "import airflow, mojap_airflow_tools.operators"``;
4. only the role files, cold / a script loading every role with PyYAML and running
   build_iam_policy on it; and whether ``python -X importtime`` shows an airflow module;
5. peak memory of 1 / peak memory of the DagBag test: the largest sum, over the process
   and all its descendants, of the proportional set size (PSS: a page shared by N
   processes counts 1/N in each, so forked workers sharing Airflow are not counted
   twice), sampled every 20 ms from /proc; the largest sum of RSS is printed as well.

Run from the repository root with the project's venv. Nothing is asserted: it reports.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent
TARGETS = {1: 0.6, 2: 0.5, 3: 1.25, 4: 1.3, 5: 2.5}

# -- the generated repository -----------------------------------------------------------

SMALL_DAG = '''\
"""{project}: a small pipeline of {count} pod tasks."""
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator
{imports}
ROLE = "airflow_{env}_{project}"

dag = DAG(
    dag_id="{project}.{name}",
    default_args={{"owner": "{project}", "depends_on_past": False}},
    start_date=datetime(2023, {month}, 1),
    schedule_interval="{schedule}",
    catchup=False,
)

previous = None
for step in range({count}):
    task = BasicKubernetesPodOperator(
        dag=dag,
        run_as_user=1234,
        repo_name={repo_name},
        release={release},
        role=ROLE,
        task_id=f"step-{{step}}",
        env_vars={{"STEP": str(step), "OUTPATH": "s3://alpha-{bucket}-{env}/{name}/out"}},
    )
    if previous is not None:
        previous >> task
    previous = task
'''

LARGE_DAG = '''\
"""{project}: a large pipeline, {tables} tables of three pod tasks, built in a loop."""
from datetime import datetime

from airflow.models import DAG
from mojap_airflow_tools.operators import BasicKubernetesPodOperator
{imports}
ROLE = "airflow_{env}_{project}"
TABLES = [f"table_{{number:03d}}" for number in range({tables})]
STAGES = ["extract", "transform", "load"]

with DAG(
    dag_id="{project}.{name}",
    default_args={{"owner": "{project}", "retries": 2}},
    description="Loads every table through three stages",
    start_date=datetime(2022, {month}, 1),
    schedule_interval="{schedule}",
    catchup=False,
) as dag:
    for table in TABLES:
        previous = None
        for stage in STAGES:
            task = BasicKubernetesPodOperator(
                dag=dag,
                run_as_user=1234,
                repo_name={repo_name},
                release={release},
                role=ROLE,
                task_id=f"{{stage}}-{{table.replace('_', '-')}}",
                env_vars={{
                    "TABLE": table,
                    "STAGE": stage,
                    "OUTPATH": f"s3://alpha-{bucket}-{env}/{name}/{{table}}/{{stage}}",
                }},
            )
            if previous is not None:
                previous >> task
            previous = task
'''

MODULE = '''\
"""Constants shared by the DAGs of {project}."""

REPO_NAME = "{bucket}-pipeline"
IMAGE_TAG = "v1.{minor}.0"
'''

ROLE = '''\
iam_role_name: airflow_{env}_{project}

s3:
  read_only:
    - alpha-{bucket}-{env}/*
    - moj-analytics-lookup-tables/{project}/*
  read_write:
{writes}
'''

ATHENA = '''
athena:
  write: false
allowed_database_names:
  - {project}_db
'''

SCHEDULES = ["@daily", "0 6 * * 1", "30 2 * * *", "@weekly", "15 */4 * * *"]


def generate(root: Path, dags: int, seed: int, large_share: float = 0.25
             ) -> dict[str, int]:
    """Write the repository; the number of tasks of each DAG file (repo-relative path)."""
    rng = random.Random(seed)
    for name in ("setup.cfg",):
        (root / name).write_text("[validation]\nenvironments = dev, prod\n")
    shutil.copy(REPO / "requirements-validation.txt", root)
    (root / "imports").mkdir(parents=True)
    (root / "imports" / "__init__.py").write_text("")
    paths: dict[str, int] = {}
    projects: dict[tuple[str, str], list[str]] = {}
    number = 0
    while len(paths) < dags:
        env = rng.choice(("dev", "prod"))
        project = f"team{number:03d}"
        number += 1
        count = min(rng.choice((1, 1, 2, 3)), dags - len(paths))
        kinds = rng.sample(("daily", "weekly", "backfill", "export"), k=count)
        names = [f"{project}_{kind}" for kind in kinds]
        uses_module = number % 12 == 0
        if uses_module:
            (root / "imports" / f"{project}_constants.py").write_text(
                MODULE.format(project=project, bucket=project, minor=number))
        for name in names:
            path, tasks = _write_dag(root, rng, env, project, name, uses_module, large_share)
            paths[path] = tasks
        projects[(env, project)] = names
        folder = root / "environments" / env / "dags" / project
        (folder / "README.md").write_text(f"# {project}\n\nPipelines of {project}.\n")
    for (env, project), names in projects.items():
        _write_role(root, rng, env, project, names)
    return paths


def _write_dag(root: Path, rng: random.Random, env: str, project: str, name: str,
               uses_module: bool, large_share: float) -> tuple[str, int]:
    large = rng.random() < large_share
    imports = (f"\nfrom imports.{project}_constants import IMAGE_TAG, REPO_NAME\n"
               if uses_module else "")
    fields = dict(
        env=env, project=project, name=name, bucket=project, imports=imports,
        month=rng.randint(1, 12), schedule=rng.choice(SCHEDULES),
        repo_name="REPO_NAME" if uses_module else f'"{project}-pipeline"',
        release="IMAGE_TAG" if uses_module else f'"v{rng.randint(1, 9)}.0.{rng.randint(0, 9)}"',
    )
    if large:  # 51 to 300 tasks: three stages per table
        tasks = 3 * rng.randint(17, 100)
        text = LARGE_DAG.format(tables=tasks // 3, **fields)
    else:
        tasks = rng.randint(1, 6)
        text = SMALL_DAG.format(count=tasks, **fields)
    path = root / "environments" / env / "dags" / project / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path.relative_to(root).as_posix(), tasks


def _write_role(root: Path, rng: random.Random, env: str, project: str,
                names: list[str]) -> None:
    writes = "\n".join(f"    - alpha-{project}-{env}/{name}/*" for name in names)
    text = ROLE.format(env=env, project=project, bucket=project, writes=writes)
    if rng.random() < 0.3:
        text += ATHENA.format(project=project)
    folder = root / "environments" / env / "roles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"airflow_{env}_{project}.yaml").write_text(text)


# -- the baselines ------------------------------------------------------------------------

DAGBAG_TEST = '''\
import glob, os, sys, tempfile
home = tempfile.mkdtemp()
os.environ.update(AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False",
                  AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR")
sys.path.insert(0, ROOT)
import yaml
from airflow.models import DagBag
from iam_builder.iam_builder import build_iam_policy

bag = DagBag(dag_folder=os.path.join(ROOT, "environments"), include_examples=False)
assert not bag.import_errors, bag.import_errors
assert len(bag.dags) == DAGS, len(bag.dags)
for path in sorted(glob.glob(os.path.join(ROOT, "environments/*/roles/*.yaml"))):
    with open(path) as stream:
        build_iam_policy(yaml.safe_load(stream))
'''

ROLE_SCRIPT = '''\
import glob, os, sys
import yaml
from iam_builder.iam_builder import build_iam_policy

for path in sorted(glob.glob(os.path.join(ROOT, "environments/*/roles/*.yaml"))):
    with open(path) as stream:
        build_iam_policy(yaml.safe_load(stream))
'''


# -- measuring ----------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as stream:
                    todo += [int(child) for child in stream.read().split()]
        except OSError:
            continue
    return found


def _memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB; zeros once it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as stream:
            for line in stream:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return pss, rss


CPU: list[float] = []  # CPU seconds (user + system) of each command run, its whole tree


def run_once(command: list[str], cwd: Path, env: dict[str, str],
             memory: bool = False) -> tuple[float, int, int]:
    """Wall-clock seconds, and with ``memory`` the peak PSS and RSS (kB) of the tree."""
    peak = [0, 0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            sizes = [_memory(pid) for pid in _tree(process.pid)]
            peak[0] = max(peak[0], sum(size[0] for size in sizes))
            peak[1] = max(peak[1], sum(size[1] for size in sizes))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    process.wait()
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    done.set()
    if memory:
        sampler.join()
    return elapsed, peak[0], peak[1]


def median_of(runs: int, command: list[str], cwd: Path, env: dict[str, str],
              before: list[str] | None = None, memory: bool = False) -> tuple[float, int, int]:
    results = []
    for _ in range(runs):
        if before:
            subprocess.run(before, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        results.append(run_once(command, cwd, env, memory))
    return (statistics.median(r[0] for r in results), int(statistics.median(r[1] for r in results)),
            int(statistics.median(r[2] for r in results)))


def interleaved(runs: int, commands: list[tuple[list[str], dict[str, str]]], cwd: Path
                ) -> list[tuple[float, float]]:
    """Median wall-clock and CPU seconds of each command (with its environment), the
    commands run by turns, forwards then backwards (ours, theirs, theirs, ours, ... with
    two), so that a shared machine slowing down or speeding up during the measurement
    weighs on all alike."""
    walls: list[list[float]] = [[] for _ in commands]
    cpus: list[list[float]] = [[] for _ in commands]
    order = list(range(len(commands)))
    for number in range(runs):
        for which in order if number % 2 == 0 else order[::-1]:
            CPU.clear()
            walls[which].append(run_once(commands[which][0], cwd, commands[which][1])[0])
            cpus[which].append(CPU[0])
    return [(statistics.median(wall), statistics.median(cpu)) for wall, cpu in zip(walls, cpus)]


def _line(number: int, what: str, ours: float, theirs: float, unit: str = "s") -> str:
    ratio = ours / theirs if theirs else float("inf")
    met = "met" if ratio <= TARGETS[number] else "NOT met"
    return (f"({number}) {what}: {ours:.2f} {unit} / {theirs:.2f} {unit} = {ratio:.2f} "
            f"(target <= {TARGETS[number]}: {met})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dags", type=int, default=300, help="DAG files (default 300)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--large-share", type=float, default=0.25,
                        help="share of large DAGs, 50 to 300 tasks (default 0.25)")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--only", metavar="N,N", help="measure only these figures (1-5)")
    parser.add_argument("--compare", metavar="CHECKOUT",
                        help="figure 1 also for the validator of another checkout (a git "
                        "worktree of an older commit), run by turns with the two")
    args = parser.parse_args()
    only = {int(n) for n in args.only.split(",")} if args.only else set(TARGETS)
    with tempfile.TemporaryDirectory(prefix="validation-bench-") as scratch:
        root = Path(args.keep).resolve() if args.keep else Path(scratch) / "repo"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        return measure(root, Path(scratch), args, only)


def measure(root: Path, scratch: Path, args: argparse.Namespace, only: set[int]) -> int:
    dags = generate(root, args.dags, args.seed, args.large_share)
    roles = sorted(p.relative_to(root).as_posix() for p in root.glob("environments/*/roles/*"))
    tasks = sum(dags.values())
    large = sum(count >= 50 for count in dags.values())
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(scratch / "xdg"),
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    env.pop("VALIDATION_NO_CACHE", None)
    validation = [PYTHON, "-W", "ignore", "-m", "validation"]
    check = subprocess.run([*validation, "--all", "--no-cache"], cwd=root, env=env,
                           capture_output=True, text=True)
    print(f"Generated {len(dags)} DAG files ({large} with 51 to 300 tasks, {tasks} tasks in "
          f"all), {len(roles)} "
          f"roles, {len(list(root.glob('imports/*_constants.py')))} imports modules in {root}")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.runs} runs")
    print(f"validation --all: exit {check.returncode}: {check.stdout.strip().splitlines()[-1]}")
    (scratch / "dagbag_test.py").write_text(
        f"ROOT = {str(root)!r}\nDAGS = {len(dags)}\n" + DAGBAG_TEST)
    (scratch / "role_script.py").write_text(f"ROOT = {str(root)!r}\n" + ROLE_SCRIPT)
    small = next(path for path, count in dags.items() if count < 50)
    cache = ["--cache-dir", str(scratch / "cache")]
    bagtest = [PYTHON, str(scratch / "dagbag_test.py")]
    if 1 in only:  # timed without the memory sampler, which takes CPU from the tree
        cold = [*validation, "--all", "--no-cache"]
        commands = [(cold, env), (bagtest, env)]
        if args.compare:  # another checkout's validator, by turns with the two
            commands.append((cold, {**env, "PYTHONPATH": str(Path(args.compare).resolve())}))
        measured = interleaved(args.runs, commands, root)
        (ours, ours_cpu), (theirs, theirs_cpu) = measured[:2]
        print(_line(1, "validation --all --no-cache / DagBag test", ours, theirs)
              + f"; CPU time {ours_cpu:.1f} s / {theirs_cpu:.1f} s")
        if args.compare:
            other, other_cpu = measured[2]
            print(_line(1, f"{args.compare}'s validation / DagBag test", other, theirs)
                  + f"; CPU time {other_cpu:.1f} s")
    if 5 in only:
        _, ours_pss, ours_rss = median_of(args.runs, [*validation, "--all", "--no-cache"],
                                          root, env, memory=True)
        _, theirs_pss, theirs_rss = median_of(args.runs, bagtest, root, env, memory=True)
        print(_line(5, "peak PSS of (1) / DagBag test", ours_pss / 1024, theirs_pss / 1024,
                    "MB") + f"; peak RSS sum {ours_rss / 1024:.0f} MB / "
              f"{theirs_rss / 1024:.0f} MB")
    if 2 in only:
        subprocess.run([*validation, "--all", *cache], cwd=root, env=env, check=False,
                       capture_output=True)
        ours = median_of(args.runs, [*validation, "--all", *cache], root, env)[0]
        theirs = median_of(args.runs, [PYTHON, "-c", "import airflow"], root, env)[0]
        print(_line(2, "validation --all, warm cache / python -c 'import airflow'", ours,
                    theirs))
    if 3 in only:
        ours = median_of(args.runs, [*validation, "--no-cache", small], root, env)[0]
        theirs = median_of(args.runs, [PYTHON, "-c", "import airflow, "
                                       "mojap_airflow_tools.operators"], root, env)[0]
        print(_line(3, f"validation {small} / import floor", ours, theirs))
    if 4 in only:
        ours = median_of(args.runs, [*validation, "--no-cache", *roles], root, env)[0]
        theirs = median_of(args.runs, [PYTHON, str(scratch / "role_script.py")], root, env)[0]
        trace = subprocess.run([PYTHON, "-X", "importtime", *validation[1:], "--no-cache",
                                *roles], cwd=root, env=env, capture_output=True, text=True)
        airflow = [line for line in trace.stderr.splitlines() if line.startswith("import time:")
                   and line.split("|")[-1].strip().split(".")[0] == "airflow"]
        print(_line(4, f"validation <{len(roles)} role files> / PyYAML + build_iam_policy",
                    ours, theirs) + f"; airflow modules imported: {len(airflow)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
