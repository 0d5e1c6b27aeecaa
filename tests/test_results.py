"""A child's answer (validation.loaders.dag.results) against the strict codec as the oracle.

msgspec decodes what a DAG child writes; validation.cache.codec, which the cache uses and
tests/test_codec.py pins down, is the oracle: on any document both read, they build the
same Outcome, and a document with a value of the wrong JSON type anywhere is refused by
both. Documents come from hypothesis (derandomized: the same cases every run) and from the
real imports of tests/fixtures/dagrepo.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validation.cache import codec
from validation.facts import DagFacts, ErrorFacts, LoadSettings, TaskFacts
from validation.loaders.dag import results
from validation.loaders.dag.supervisor import run_jobs
from validation.loaders.dag.worker import Job, Outcome
from tests.test_codec import DAGREPO

TEXT = st.text(max_size=12)
COUNT = st.integers(min_value=0, max_value=10**6)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12)
ERRORS = st.builds(ErrorFacts, kind=TEXT, message=TEXT, line=COUNT, column=COUNT)
TASKS = st.builds(
    TaskFacts, task_id=TEXT, operator=TEXT, is_pod=st.booleans(), mojap=st.booleans(),
    line=COUNT, call_line=COUNT, from_source=st.booleans(), task_id_line=COUNT,
    task_id_column=COUNT, role=st.none() | TEXT, role_source=st.none() | TEXT,
    role_line=COUNT, role_column=COUNT, pod=st.dictionaries(TEXT, JSON, max_size=4),
    role_argument=st.none() | TEXT)
DAGS = st.builds(
    DagFacts, dag_id=TEXT, line=COUNT, column=COUNT, registered=st.booleans(),
    start_date=st.none() | TEXT, schedule_kind=TEXT, schedule_value=st.none() | TEXT,
    owner=st.none() | TEXT, tasks=st.lists(TASKS, max_size=3))
OUTCOMES = st.builds(
    Outcome, import_error=st.none() | ERRORS, crash=st.none() | ERRORS,
    dags=st.lists(DAGS, max_size=2), import_seconds=st.floats(0, 100),
    warnings=st.lists(st.tuples(TEXT, TEXT, COUNT), max_size=2),
    repo_modules=st.lists(TEXT, max_size=2),
    network=st.lists(st.tuples(TEXT, COUNT), max_size=2))
CHECKS = settings(derandomize=True, max_examples=300, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


def _by_codec(document: Any) -> Outcome | None:
    try:
        decoded = codec.decode(document, Outcome)
    except codec.CodecError:
        return None
    assert isinstance(decoded, Outcome)
    return decoded


def _by_results(document: Any) -> Outcome | None:
    try:
        return results.decode(json.dumps(document, allow_nan=False))
    except results.ResultError:
        return None


@CHECKS
@given(OUTCOMES)
def test_an_outcome_comes_back_equal_and_as_the_codec_reads_it(outcome: Outcome) -> None:
    assert results.decode(results.encode(outcome)) == outcome
    document = codec.encode(outcome, Outcome)
    assert _by_results(document) == _by_codec(document) == outcome


def _scalar_paths(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where the scalar values of ``document`` are, outside the Any of pod settings."""
    if isinstance(document, dict):
        return [found for key, value in document.items() if key != "pod"
                for found in _scalar_paths(value, (*path, key))]
    if isinstance(document, list):
        return [found for index, value in enumerate(document)
                for found in _scalar_paths(value, (*path, index))]
    return [path]


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


WRONG = [True, 0, 1, 1.5, "text", "1", "true", "1.5", None, [], {}]


@CHECKS
@given(OUTCOMES, st.data())
def test_a_value_of_the_wrong_type_is_refused_as_the_codec_refuses_it(
        outcome: Outcome, data: st.DataObject) -> None:
    document = codec.encode(outcome, Outcome)
    path = data.draw(st.sampled_from(_scalar_paths(document)))
    value = data.draw(st.sampled_from(WRONG))
    forged = _replaced(document, path, value)
    assert (_by_results(forged) is None) == (_by_codec(forged) is None), (path, value)


@pytest.mark.parametrize("text", [
    "", "null", "[]", '{"dags": 3}', '{"import_seconds": 1e999}', '{"import_seconds": NaN}',
    '{"dags": [{"dag_id": 1}]}', '{"dags": [{"dag_id": "a", "registered": 1}]}',
    '{"warnings": [["a", "b"]]}', '{"network": [["a", true]]}',
    '{"dags": [{"dag_id": "a", "tasks": [{"task_id": "t", "operator": "o", "is_pod": true, '
    '"pod": {"a": ' + "[" * 5000 + "]" * 5000 + "}}]}]}",
    "\u00ff\u00fe", '{"crash": {"kind": "x"}}',
])
def test_what_is_not_the_json_of_an_outcome_is_refused(text: str) -> None:
    with pytest.raises(results.ResultError):
        results.decode(text)


def test_real_imports_come_back_as_the_codec_reads_them() -> None:
    jobs = {str(path): Job(str(path), "dag")
            for path in sorted(DAGREPO.glob("environments/*/dags/*/*.py"))}
    outcomes, _ = run_jobs(str(DAGREPO), jobs, LoadSettings(timeout=2.0), 2, allow_weak=True)
    assert len(outcomes) == len(jobs) > 40
    assert any(outcome.dags and outcome.dags[0].tasks for outcome in outcomes.values())
    for outcome in outcomes.values():
        document = json.loads(results.encode(outcome))
        assert _by_codec(document) == outcome
