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
