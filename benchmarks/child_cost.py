"""Where a zygote child's time goes, per DAG file (issue 13, "speed holds").

    .venv/bin/python benchmarks/child_cost.py REPO [--files 300] [--jobs 1]

REPO is a generated repository (``benchmarks/speed.py --keep DIR`` makes one). This
process plays the zygote: it runs ``zygote._prepare`` (Airflow imported, the warm-up
DAG, the seccomp filter, ``gc.freeze``) and then forks the real children
(``zygote._fork``, the real lock-down and import) one file at a time (``--jobs 1``, so
that no child slows another down), timing each step from outside and, through a file the
child leaves in its own folder, from inside. Prints the median, over the files, of:

* fork: the zygote's ``_fork`` (folder, pipe, ``fork()``, the "started" message);
* start: from ``fork()`` to the child's first line;
* lockdown: ``lockdown.lock_down`` in the child;
* import: ``worker.run`` in the child (the file's import and describing what it made);
* result: from the end of ``worker.run`` to the zygote having read the whole result;
* reap: the zygote's ``_finish`` (waitpid on the exiting child, its folder removed);
* child CPU: user + system time of the child (RUSAGE_CHILDREN), exit included;
* faults: the child's minor page faults (copy-on-write among them), at its end.

Timings come from one process tree doing nothing else; on a shared machine, run it
twice. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from validation.cache import codec  # noqa: E402
from validation.facts import LoadSettings  # noqa: E402
from validation.loaders.dag import lockdown, metadata, zygote  # noqa: E402
from validation.loaders.dag import worker as dag_worker  # noqa: E402

STEPS = ("fork", "start", "lockdown", "import", "result", "reap", "child CPU")
_marks: dict[str, float] = {}


def _instrument() -> None:
    """Wrap the steps a child takes so it can tell how long each took."""
    lock_down, run, write = lockdown.lock_down, dag_worker.run, zygote._write
    locked_child = zygote._locked_child

    def timed_child(*args: Any, **kwargs: Any) -> None:
        _marks["child"] = time.perf_counter()
        locked_child(*args, **kwargs)

    def timed_lock_down(*args: Any, **kwargs: Any) -> None:
        _marks["lockdown0"] = time.perf_counter()
        lock_down(*args, **kwargs)
        _marks["lockdown1"] = time.perf_counter()

    def timed_run(*args: Any, **kwargs: Any) -> Any:
        _marks["run0"] = time.perf_counter()
        outcome = run(*args, **kwargs)
        _marks["run1"] = time.perf_counter()
        return outcome

    def timed_write(fd: int, text: str) -> None:
        if "run1" in _marks:  # the result of an import (not a failed lock-down)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            with open("timings.json", "w", encoding="utf-8") as handle:
                json.dump({**_marks, "minflt": usage.ru_minflt}, handle)
        write(fd, text)

    zygote._locked_child = timed_child  # type: ignore[assignment]
    lockdown.lock_down = timed_lock_down  # type: ignore[assignment]
    zygote._write = timed_write  # type: ignore[assignment]
    dag_worker.run = timed_run  # type: ignore[assignment]


def _keeper(sent: list[dict[str, Any]]) -> Any:
    """A zygote._send that keeps the messages, a child's result in them as text."""
    def keep(message: dict[str, Any], payload: bytes = b"") -> None:
        sent.append({**message, "result": payload.decode("utf-8", "replace")})
    return keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()
    root = str(args.repo.resolve())
    files = sorted(str(path) for path in Path(root).glob("environments/*/dags/**/*.py"))
    files = files[:args.files]
    run_dir = tempfile.mkdtemp(prefix="child-cost-")
    try:
        database = str(metadata.metadata_db())
    except metadata.MetadataError:
        database = ""
    plan = zygote.Plan(root=root, run_dir=run_dir, jobs=1, parent=os.getppid(),
                       settings=codec.encode(LoadSettings(), LoadSettings), database=database)
    sent: list[dict[str, Any]] = []
    zygote._send = _keeper(sent)  # type: ignore[assignment]
    started = time.perf_counter()
    zygote._prepare(plan)
    print(f"zygote prepared in {time.perf_counter() - started:.2f} s; {sent[0]['hello']}")
    _instrument()
    rows: dict[str, list[float]] = {step: [] for step in STEPS}
    faults: list[int] = []
    inside: dict[str, Any] = {}
    remove = zygote._remove

    def read_then_remove(folder: str) -> None:
        try:
            with open(os.path.join(folder, "timings.json"), encoding="utf-8") as handle:
                inside.update(json.load(handle))
        except OSError:
            inside.clear()
        remove(folder)

    zygote._remove = read_then_remove  # type: ignore[assignment]
    failed = 0
    for number, path in enumerate(files):
        job = {"id": number, "path": path, "kind": "dag"}
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        _marks["fork"] = t0
        child = zygote._fork(job, plan)
        t1 = time.perf_counter()
        while not zygote._read_result(child):
            pass
        t2 = time.perf_counter()
        zygote._finish(child)
        t3 = time.perf_counter()
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = sent[-1]
        if done.get("status") != 0 or "run1" not in inside or "dags" not in (
                done.get("result") or ""):
            failed += 1
            continue
        rows["fork"].append(t1 - t0)
        rows["start"].append(inside["child"] - t0)
        rows["lockdown"].append(inside["lockdown1"] - inside["lockdown0"])
        rows["import"].append(inside["run1"] - inside["run0"])
        rows["result"].append(t2 - inside["run1"])
        rows["reap"].append(t3 - t2)
        rows["child CPU"].append(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime)
        faults.append(inside["minflt"])
    print(f"{len(files)} files, {failed} without a result; median per file:")
    for step in STEPS:
        print(f"  {step:10} {statistics.median(rows[step]) * 1000:7.2f} ms"
              f"   (total {sum(rows[step]):6.2f} s)")
    print(f"  faults     {statistics.median(faults):7.0f}      (total {sum(faults)})")


if __name__ == "__main__":
    main()
