"""The per-file cost of the fork and of the kernel lock-down (issue 13).

    .venv/bin/python benchmarks/lockdown_cost.py [--files 300]

In a process that has imported Airflow and mojap-airflow-tools as the zygote does, fork
one child per "file" and wait for it: once with a child that exits at once (the fork),
once with a child that locks itself down first (lockdown.lock_down with a readable
set like the zygote's, the seccomp filter prepared before forking) and then exits.
Prints the median, over --files children, of the time from fork to reaped, and of the
lock-down alone as the child measures it.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from validation.loaders.dag import lockdown, worker  # noqa: E402


def _child(lock: bool, folder: str, write: int, readable: list[str]) -> None:
    started = time.perf_counter()
    if lock:
        lockdown.lock_down(folder, readable, lockdown.Limits(memory_mb=4096, cpu_seconds=60),
                           keep=write)
    os.write(write, struct.pack("d", time.perf_counter() - started))
    os._exit(0)


def measure(files: int, lock: bool, readable: list[str]) -> tuple[float, float]:
    """Median seconds (fork to reaped, lock-down inside the child)."""
    totals, inside = [], []
    base = tempfile.mkdtemp(prefix="lockdown-cost-")
    for number in range(files):
        folder = os.path.join(base, str(number))
        os.mkdir(folder)
        read, write = os.pipe()
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child(lock, folder, write, readable)
        os.close(write)
        data = os.read(read, 8)
        os.waitpid(pid, 0)
        totals.append(time.perf_counter() - started)
        os.close(read)
        inside.append(struct.unpack("d", data)[0])
    shutil.rmtree(base, ignore_errors=True)
    return statistics.median(totals), statistics.median(inside)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="lockdown-cost-airflow-")
    worker.preload()
    lockdown.prepare()  # as the zygote does: the seccomp filter is built once
    gc.freeze()
    readable = sorted({sys.prefix, sys.base_prefix, *(path for path in sys.path if path),
                       "/usr/lib", "/lib", "/etc/localtime"})
    print(lockdown.available().describe())
    fork, _ = measure(args.files, False, readable)
    locked, inside = measure(args.files, True, readable)
    print(f"fork + exit, median of {args.files}: {fork * 1000:.2f} ms")
    print(f"fork + lock-down + exit, median of {args.files}: {locked * 1000:.2f} ms "
          f"(the lock-down itself, in the child: {inside * 1000:.2f} ms)")
    shutil.rmtree(os.environ["AIRFLOW_HOME"], ignore_errors=True)


if __name__ == "__main__":
    main()
