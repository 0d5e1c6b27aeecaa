"""The sarif format against the official SARIF 2.1.0 JSON schema (shipped in
tests/schemas/, see its README), with every rule declared and stable fingerprints."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from validation.cli import main
from validation.loaders.files import line_texts
from validation.problems import Level, Problem, Report
from validation.registry import all_rules
from validation.reporters import Options
from validation.reporters.sarif import FINGERPRINT, artifact_location, sarif, why

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dagrepo"
WRONG_ID = "environments/dev/dags/cases/wrong_dag_id.py"
# RFC 3986 characters: what a uri-reference may hold once percent-encoded.
URI_REFERENCE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


def validate(log: dict[str, Any]) -> None:
    """Against the official schema (draft-04), formats checked where jsonschema can."""
    validator = jsonschema.Draft4Validator(
        SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(log)]
    assert errors == []
    for result in log["runs"][0]["results"]:
        for location in result["locations"]:
            assert URI_REFERENCE.fullmatch(location["physicalLocation"]["artifactLocation"]["uri"])


def test_the_schema_is_the_official_one() -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["id"] == ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/"
                            "schemas/sarif-schema-2.1.0.json")
    assert len(SCHEMA["definitions"]) == 52  # every object the standard defines
    with pytest.raises(jsonschema.ValidationError):  # and it does reject things
        jsonschema.validate({"version": "2.1.0", "runs": [{"tool": {}}]}, SCHEMA)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small repository with problems of every shape: a DAG (line and column), a YAML
    error (line), whole-file problems (line 0), a warning, and odd file names."""
    root = tmp_path_factory.mktemp("sarif")
    (root / "environments/dev/dags/cases").mkdir(parents=True)
    (root / "environments/dev/roles").mkdir(parents=True)
    shutil.copy(FIXTURE / WRONG_ID, root / WRONG_ID)
    roles = root / "environments/dev/roles"
    (roles / "airflow_dev_x.yaml").write_text("iam_role_name: airflow_dev_x\ns3: [\n")
    (roles / "airflow_dev_y.yml").write_text("a: 1\n")
    (roles / "airflow_dev_odd name, 100%: é.yaml").write_text("iam_role_name: x\n")
    return root


def _run(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> dict[str, Any]:
    main(["--root", str(root), "--format", "sarif", "--dag-timeout", "20", *argv])
    out = capsys.readouterr().out
    return json.loads(out)


def test_real_output_is_valid_sarif(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    log = _run(capsys, repo, "--all")
    validate(log)
    results = log["runs"][0]["results"]
    rules = {result["ruleId"] for result in results}
    assert {"DAG005", "ROL001", "STR005", "STR006"} <= rules
    levels = {result["level"] for result in results}
    assert levels == {"error", "warning"}


def test_results_point_at_repo_relative_uris_and_known_positions(
        capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    results = _run(capsys, repo, "--all")["runs"][0]["results"]
    by_rule = {result["ruleId"]: result for result in results}
    dag = by_rule["DAG005"]["locations"][0]["physicalLocation"]
    assert dag == {"artifactLocation": {"uri": WRONG_ID, "uriBaseId": "%SRCROOT%"},
                   "region": {"startLine": 7, "startColumn": 12}}
    assert by_rule["ROL001"]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 3, "startColumn": 1}
    assert "region" not in by_rule["STR005"]["locations"][0]["physicalLocation"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "environments/dev/roles/airflow_dev_odd%20name%2C%20100%25%3A%20%C3%A9.yaml" in uris


def test_every_rule_is_declared_and_indexed(capsys: pytest.CaptureFixture[str],
                                            repo: Path) -> None:
    run = _run(capsys, repo, "--all")["runs"][0]
    declared = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in declared] == list(all_rules())
    for result in run["results"]:
        assert declared[result["ruleIndex"]]["id"] == result["ruleId"]


def test_a_rule_descriptor_carries_its_documentation() -> None:
    log = json.loads(sarif(Report([], 0)))
    declared = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    dag005, rule = declared["DAG005"], all_rules()["DAG005"]
    assert dag005["name"] == "dag-id-convention"
    assert dag005["shortDescription"] == {
        "text": "The dag_id is not <project folder>.<file name>."}
    assert dag005["fullDescription"]["text"].startswith("the platform names DAGs after where")
    assert "\n" not in dag005["fullDescription"]["text"]
    assert dag005["help"] == {"text": rule.doc, "markdown": rule.doc}
    assert dag005["defaultConfiguration"] == {"level": "error", "enabled": True}
    warning = next(rule for rule in all_rules().values() if rule.level is Level.WARNING)
    assert declared[warning.id]["defaultConfiguration"]["level"] == "warning"
    for rule_id, registered in all_rules().items():  # opt-in rules are not enabled
        assert declared[rule_id]["defaultConfiguration"]["enabled"] is registered.default
    assert "helpUri" not in dag005
    validate(log)


def test_help_uri_points_at_the_rule_in_docs() -> None:
    url = "https://github.com/org/repo/blob/abc123/docs/rules.md"
    log = json.loads(sarif(Report([], 0), Options(docs_url=url)))
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["rules"][0]["helpUri"] == f"{url}#{driver['rules'][0]['id'].lower()}"
    validate(log)


def test_the_docs_url_comes_from_the_actions_environment(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/pipelines")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    log = _run(capsys, FIXTURE, str(FIXTURE / "environments/dev/dags/cases/README.md"))
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["helpUri"] == (
        f"https://github.com/org/pipelines/blob/0123abc/docs/rules.md#{rule['id'].lower()}")


def test_why_is_the_why_paragraph_on_one_line() -> None:
    assert why("Summary.\n\nWhy: because\nof this.\n\nBad:\n\n    x") == "because of this."
    assert why("Summary only.") == ""
    assert all(why(rule.doc) for rule in all_rules().values())


@pytest.mark.parametrize("path, expected", [
    ("environments/dev/a.py", {"uri": "environments/dev/a.py", "uriBaseId": "%SRCROOT%"}),
    ("./a b/c,d:e#f?.py", {"uri": "a%20b/c%2Cd%3Ae%23f%3F.py", "uriBaseId": "%SRCROOT%"}),
    ("/home/me/x y.py", {"uri": "file:///home/me/x%20y.py"}),
    ("environments/dev/dags/p/caf\udce9.py",  # a file name that is not UTF-8
     {"uri": "environments/dev/dags/p/caf%E9.py", "uriBaseId": "%SRCROOT%"}),
])
def test_artifact_locations(path: str, expected: dict[str, str]) -> None:
    assert artifact_location(path) == expected


def _fingerprints(log: dict[str, Any], rule: str) -> list[str]:
    return [result["partialFingerprints"][FINGERPRINT]
            for result in log["runs"][0]["results"] if result["ruleId"] == rule]


def test_fingerprints_survive_lines_added_above(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    dag = tmp_path / WRONG_ID
    dag.parent.mkdir(parents=True)
    source = (FIXTURE / WRONG_ID).read_text()
    dag.write_text(source)
    before = _run(capsys, tmp_path, str(dag))
    dag.write_text('"""A docstring added above."""\n\n' + source.replace("task-1", "task-2"))
    after = _run(capsys, tmp_path, str(dag))
    region = [r["locations"][0]["physicalLocation"]["region"]["startLine"]
              for log in (before, after) for r in log["runs"][0]["results"]
              if r["ruleId"] == "DAG005"]
    assert region == [7, 9]
    assert _fingerprints(before, "DAG005") == _fingerprints(after, "DAG005")
    dag.write_text(source.replace('dag_id="cases_wrong",', 'dag_id="cases_wrong", '))
    assert _fingerprints(_run(capsys, tmp_path, str(dag)), "DAG005") == (
        _fingerprints(before, "DAG005"))  # whitespace does not count
    dag.write_text(source.replace("# expect: DAG005", "# the flagged line changed"))
    assert _fingerprints(_run(capsys, tmp_path, str(dag)), "DAG005") != (
        _fingerprints(before, "DAG005"))


def _texts(root: Path, problems: list[Problem]) -> dict[tuple[str, int], str]:
    return line_texts(root, ((p.path, p.line) for p in problems))


def test_identical_problems_get_distinct_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nx = 1\nother\n")
    twin = [Problem("a.py", line, 1, "DAG005", "dag-id-convention", Level.ERROR, "same")
            for line in (1, 2, 3)]
    log = json.loads(sarif(Report(twin, 1), Options(line_texts=_texts(tmp_path, twin))))
    first, second, third = _fingerprints(log, "DAG005")
    assert first.endswith(":1") and second.endswith(":2") and third.endswith(":1")
    assert first.split(":")[0] == second.split(":")[0] != third.split(":")[0]


def test_odd_problems_still_make_valid_sarif(tmp_path: Path) -> None:
    odd = [
        Problem("dir with space/a,b:c.py", 1, 1, "DAG005", "dag-id-convention", Level.ERROR,
                "ünïcödé ✓ 100% \r\n| pipes | " + "x" * 10_000),
        Problem("./x.py", 0, 0, "NOT_A_RULE", "", Level.WARNING, ""),
        Problem("/abs/olute path.py", 5, 0, "STR001", "unknown-location", Level.ERROR, "m"),
        Problem("missing.py", 10**6, 10**6, "DAG005", "dag-id-convention", Level.ERROR, "m"),
    ]
    log = json.loads(sarif(Report(odd, 4), Options(line_texts=_texts(tmp_path, odd))))
    validate(log)
    results = log["runs"][0]["results"]
    assert "ruleIndex" not in results[1]  # an unknown rule has no index to point at
    assert results[1]["message"]["text"] == "NOT_A_RULE"  # SARIF wants a non-empty message
