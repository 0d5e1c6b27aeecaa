"""Test set-up: Airflow must never touch the developer's ~/airflow, even when a test
imports it before the validator has pointed it elsewhere."""

from __future__ import annotations

import os
import sys
import tempfile

_AIRFLOW_HOME = tempfile.TemporaryDirectory(prefix="validation-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME.name
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
sys.dont_write_bytecode = True  # the fixtures are DAG files: leave no __pycache__ in them
# No content cache in tests/fixtures or the repository, nor a signing key in ~/.cache: the
# cache tests (test_cache.py) name their own folders.
os.environ["VALIDATION_NO_CACHE"] = "1"

# The output format and colours follow the environment (GITHUB_ACTIONS picks the github
# format, NO_COLOR/FORCE_COLOR colours): tests that run inside GitHub Actions, or in a
# terminal that forces colour, must see the plain text output the tests expect.
for _variable in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_BASE_REF", "FORCE_COLOR",
                  "NO_COLOR"):
    os.environ.pop(_variable, None)
