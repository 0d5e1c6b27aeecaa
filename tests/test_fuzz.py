"""Property tests: whatever a role file or a DAG file contains, the validator reports
problems and never raises.

- arbitrary text and bytes, and arbitrary YAML documents, as role files: load_role and
  every role rule (the cross-file ones included) run without raising;
- arbitrary role configs built from iam_builder's own schema (right and wrong types,
  unknown keys, odd strings): the same;
- arbitrary bytes, and lines of Python mixed with bytes, as DAG files: the whole run
  (real workers, real Airflow) finishes with problems of known rules only.

The number of examples is bounded so the suite stays fast; hypothesis's database is off
so a run never writes into the repository.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iam_builder.iam_schema import IAM_SCHEMA

from validation.config import Config
from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.roles import load_role
from validation.registry import Subject, all_rules
from validation.run.checks import check_facts
from validation.run.runner import run

ROLE = "environments/dev/roles/airflow_dev_fuzz.yaml"
RULES = all_rules()
FAST = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# Strings that mean something to the role rules, next to arbitrary text.
INTERESTING = ["*", "*/*", "mojap-x/*", "mojap-x/a/", "alpha-everyone/*", "s3://b/k",
               "mojap-airflow-dev/x/*", "arn:aws:kms:eu-west-1:123456789012:key/a", "a b",
               "airflow_dev_fuzz", "airflow_prod_x", "read", "readwrite", "", "-", "~",
               "{{ x }}", "\u00e9", "x" * 300, "null", "true", "1e9"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(INTERESTING))
JUNK = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema allows, and sometimes values it does not (JUNK)."""
    return st.one_of(_allowed(schema), JUNK) if schema else JUNK


def _allowed(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "oneOf" in schema:
        return st.one_of(*(from_schema(option) for option in schema["oneOf"]))
    kinds = schema.get("type", "object")
    if isinstance(kinds, list):
        return st.one_of(*(_allowed({**schema, "type": kind}) for kind in kinds))
    if kinds == "object" or "properties" in schema:
        properties = {key: from_schema(value) for key, value in schema["properties"].items()}
        known = st.fixed_dictionaries({}, optional=properties)  # type: ignore[arg-type]
        extra = st.dictionaries(st.sampled_from(["s4", "athena_", "Kms", "read_only", "1"]),
                                JUNK, max_size=2)
        return st.builds(lambda a, b: {**b, **a}, known, extra)
    if kinds == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=4)
    return {"string": st.one_of(st.text(max_size=30), st.sampled_from(INTERESTING)),
            "boolean": st.booleans(), "integer": st.integers(), "number": st.floats()}[kinds]


def _check_role(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / ROLE
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        (root / "environments/dev/dags/fuzz").mkdir(parents=True)
        repo = with_role_context(root, scan_repo(root, ("dev", "prod")))
        facts = load_role(root, ROLE, "dev", "airflow_dev_fuzz")
        problems = check_facts(Subject.ROLE, ROLE, facts, repo)
    for problem in problems:
        assert problem.rule in RULES
        assert "Traceback" not in problem.message


@FAST
@given(st.one_of(st.text(max_size=300).map(str.encode), st.binary(max_size=300)))
def test_any_text_as_a_role_file(data: bytes) -> None:
    _check_role(data)


@FAST
@given(JUNK)
def test_any_yaml_document_as_a_role_file(document: Any) -> None:
    _check_role(yaml.safe_dump(document, allow_unicode=True).encode())


@FAST
@given(_allowed(IAM_SCHEMA))
def test_any_config_built_from_iam_builders_schema(config: dict[str, Any]) -> None:
    _check_role(yaml.safe_dump(config, allow_unicode=True).encode())


# Lines of Python that run at import, none of which hangs; mixed with arbitrary bytes.
SNIPPETS = [
    b"import os", b"import sys", b"x = 1", b"raise ValueError('x')", b"raise SystemExit(2)",
    b"from airflow.models import DAG", b"from datetime import datetime",
    b"dag = DAG(dag_id='fuzz.dag', start_date=datetime(2022, 1, 1), schedule_interval=None)",
    b"dag = DAG(dag_id=1, schedule_interval='@ daily')", b"print('x' * 1000)",
    b"sys.modules.pop('json', None)", b"import builtins; builtins.len = None",
    b"os.system('true')", b"open('/etc/x', 'w')", b"def f():", b"    return f()", b"f()",
    b"# noqa: DAG001", b"\xff\xfe", b"\x00", b"'''", b"(((", b"\t", b"async def g(): pass",
]


@SLOW
@given(st.one_of(
    st.binary(max_size=200),
    st.lists(st.one_of(st.sampled_from(SNIPPETS), st.binary(max_size=12)), max_size=8)
    .map(b"\n".join)))
def test_any_bytes_as_a_dag_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        dags = root / "environments/dev/dags/fuzz"
        dags.mkdir(parents=True)
        (dags / "README.md").write_text("# fuzz\n")
        (dags / "dag.py").write_bytes(data)
        report = run(root, [], everything=True, config=Config(dag_timeout=10.0, jobs=1),
                     cwd=root)
    assert report.files == 2
    for problem in report.problems:
        assert problem.rule in RULES
        assert "Traceback" not in problem.message
