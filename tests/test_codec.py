"""The JSON codec of the facts: strict both ways, and a round trip changes no problem.

The facts are the real ones: every DAG file of tests/fixtures/dagrepo imported with the
real Airflow (crashes included), and every role file of the fixtures and of the example
repository built with the real iam_builder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from validation.cache.codec import CodecError, decode, encode
from validation.facts import DagFileFacts, ErrorFacts, ImportsModuleFacts, LoadSettings, RoleFacts
from validation.loaders.dag.dags import DagFileRequest, load_python_files
from validation.loaders.repo import scan_repo, with_role_context
from validation.loaders.roles import load_role
from validation.registry import Subject, all_rules
from validation.run.checks import check_facts

TESTS = Path(__file__).resolve().parent
DAGREPO = TESTS / "fixtures" / "dagrepo"
REPO = TESTS.parent
ROLE_ROOTS = [REPO, *sorted(path for path in (TESTS / "fixtures").iterdir() if path.is_dir())]


def _round_trip(value: Any, kind: Any) -> Any:
    return decode(json.loads(json.dumps(encode(value, kind), allow_nan=False)), kind)


@pytest.fixture(scope="module")
def python_facts() -> tuple[dict[str, DagFileFacts], dict[str, ImportsModuleFacts]]:
    requests = []
    for path in sorted(DAGREPO.glob("environments/*/dags/*/*.py")):
        env, _, project = path.relative_to(DAGREPO).parts[1:4]
        requests.append(DagFileRequest(path.relative_to(DAGREPO).as_posix(), env, project,
                                       path.stem))
    modules = [(path.relative_to(DAGREPO).as_posix(), path.stem)
               for path in sorted(DAGREPO.glob("imports/*.py")) if path.stem != "__init__"]
    return load_python_files(str(DAGREPO), requests, modules, LoadSettings(timeout=2.0))


def _problems(subject: Subject, facts: Any, repo: Any) -> list[Any]:
    return check_facts(subject, facts.path, facts, repo, list(all_rules().values()))


def test_every_dag_fixture_round_trips_to_equal_facts_and_problems(python_facts: Any) -> None:
    dags, imports = python_facts
    repo = scan_repo(DAGREPO, ("dev", "prod"))
    assert len(dags) > 40 and imports
    crashed = [facts for facts in dags.values() if facts.crash is not None]
    assert crashed  # the crash fixtures are part of it
    for facts in dags.values():
        again = _round_trip(facts, DagFileFacts)
        assert again == facts, facts.path
        assert _problems(Subject.DAG, again, repo) == _problems(Subject.DAG, facts, repo)
    for module in imports.values():
        again = _round_trip(module, ImportsModuleFacts)
        assert again == module
        expected = _problems(Subject.IMPORTS, module, repo)
        assert _problems(Subject.IMPORTS, again, repo) == expected


def _role_files() -> list[tuple[Path, str]]:
    found = []
    for root in ROLE_ROOTS:
        found += [(root, path.relative_to(root).as_posix())
                  for path in sorted(root.glob("environments/*/roles/*.yaml"))]
    found += [(TESTS / "fixtures" / "roles", path.name)
              for path in sorted((TESTS / "fixtures" / "roles").rglob("*.yaml"))]
    return found


def test_every_role_fixture_round_trips_to_equal_facts_and_problems() -> None:
    files = _role_files()
    assert len(files) > 30
    for root, rel_path in files:
        env = rel_path.split("/")[1] if rel_path.startswith("environments/") else "dev"
        facts = load_role(root, rel_path, env, Path(rel_path).stem)
        repo = with_role_context(root, scan_repo(root, ("dev", "prod")))
        again = _round_trip(facts, RoleFacts)
        assert again == facts, rel_path
        assert _problems(Subject.ROLE, again, repo) == _problems(Subject.ROLE, facts, repo)


# -- strictness ----------------------------------------------------------------------------


@dataclass
class Sample:
    name: str
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    error: ErrorFacts | None = None
    pairs: list[tuple[str, int]] = field(default_factory=list)
    names: frozenset[str] = frozenset()
    anything: Any = None
    by_key: dict[str, tuple[int, ...]] = field(default_factory=dict)


def test_a_sample_round_trips() -> None:
    sample = Sample("a", 2, 0.5, True, ErrorFacts("E", "m", 1, 2), [("x", 1)],
                    frozenset({"b", "a"}), {"k": [1, "two", None, {"n": 3.5}]}, {"t": (1, 2)})
    assert _round_trip(sample, Sample) == sample
    assert encode(sample, Sample)["names"] == ["a", "b"]


@pytest.mark.parametrize("value", [
    Sample(1),  # type: ignore[arg-type]
    Sample("a", count=True),  # a bool is not an int
    Sample("a", count=1.0),  # type: ignore[arg-type]
    Sample("a", ratio=float("nan")),
    Sample("a", pairs=[("x", 1, 2)]),  # type: ignore[list-item]
    Sample("a", pairs=(("x", 1),)),  # type: ignore[arg-type]
    Sample("a", anything=("a", "tuple")),  # JSON would make it a list
    Sample("a", anything={1: "int key"}),
    Sample("a", anything=b"bytes"),
    Sample("a", anything=float("inf")),
    Sample("a", by_key={1: (1,)}),  # type: ignore[dict-item]
    Sample("a", error="not facts"),  # type: ignore[arg-type]
])
def test_values_that_do_not_fit_their_type_are_refused(value: Sample) -> None:
    with pytest.raises(CodecError):
        encode(value, Sample)


GOOD = encode(Sample("a"), Sample)


@pytest.mark.parametrize("data", [
    None, [], "text", {},
    {**GOOD, "extra": 1},
    {key: value for key, value in GOOD.items() if key != "count"},
    {**GOOD, "count": "1"},
    {**GOOD, "count": True},
    {**GOOD, "count": 1.5},
    {**GOOD, "flag": 0},
    {**GOOD, "error": {"kind": "E", "message": "m", "line": 1}},
    {**GOOD, "error": {"kind": "E", "message": "m", "line": 1, "column": 2, "x": 0}},
    {**GOOD, "pairs": [["x"]]},
    {**GOOD, "pairs": {"x": 1}},
    {**GOOD, "names": "ab"},
    {**GOOD, "by_key": {"t": {"0": 1}}},
    {**GOOD, "anything": {"deep": json.loads("[" * 150 + "]" * 150)}},
])
def test_json_that_does_not_fit_the_type_is_refused(data: Any) -> None:
    with pytest.raises(CodecError):
        decode(data, Sample)
