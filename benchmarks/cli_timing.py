"""Whole-process timings of the validate commands, median of N runs.

    .venv/bin/python benchmarks/cli_timing.py [--runs 5]

Run from the repository root. Prints one line per command: median, min and max
wall-clock seconds. The validator runs twice: cold (--no-cache) and warm (the cache in
.validation_cache/ filled by the cold runs). Nothing here is asserted by the tests:
timings only report. benchmarks/speed.py measures a generated 300-DAG repository.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

PYTHON = sys.executable
VALIDATE = [PYTHON, "-W", "ignore", "-m", "validation"]
TARGETS = {
    "--all": ["--all"],
    "<one DAG file>": ["environments/dev/dags/examples/write_to_s3.py"],
    "<one role file>": ["environments/dev/roles/airflow_dev_examples.yaml"],
}
COLD = {f"python -W ignore -m validation {name} --no-cache (cold)": [*VALIDATE, *args, "--no-cache"]
        for name, args in TARGETS.items()}
WARM = {f"python -W ignore -m validation {name} (warm cache)": [*VALIDATE, *args]
        for name, args in TARGETS.items()}
COMMANDS = {
    "import floor: python -c 'import airflow, mojap_airflow_tools.operators'":
        [PYTHON, "-c", "import airflow, mojap_airflow_tools.operators"],
    "make validate (validator --all warm, flake8, yamllint; venv up to date)":
        ["make", "--silent", "validate"],
    **COLD,
    **WARM,
}


def measure(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name, command in COMMANDS.items():
        times = measure(command, args.runs)
        print(f"{statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f})"
              f"  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
