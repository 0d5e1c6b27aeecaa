"""The sarif format: a SARIF 2.1.0 log for GitHub code scanning (and any SARIF viewer).

Every registered rule is declared in ``tool.driver.rules`` with its documentation, so a
viewer can explain a result without this repository. Each result carries a fingerprint
that hashes the rule, the path, the message and the text of the flagged line - not the
line number - so an alert keeps its identity when lines are added above it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Any
from urllib.parse import quote

from validation import __version__
from validation.problems import Fix, Level, Problem, Report
from validation.registry import Rule, all_rules
from validation.reporters.base import Options

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "airflow-pipelines-validation"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "validationHash/v1"  # partialFingerprints key: our own scheme, versioned
SARIF_LEVEL = {Level.ERROR: "error", Level.WARNING: "warning"}


def sarif(report: Report, options: Options = Options()) -> str:
    """One SARIF 2.1.0 log with one run: the tool, its rules, and a result per problem."""
    rules = list(all_rules().values())
    index = {rule.id: number for number, rule in enumerate(rules)}
    lines = options.line_texts or {}
    occurrences: Counter[str] = Counter()
    results = []
    for problem in report.problems:
        digest = fingerprint(problem, lines.get((problem.path, problem.line), ""))
        occurrences[digest] += 1
        results.append(_result(problem, index.get(problem.rule),
                               f"{digest}:{occurrences[digest]}"))
    driver: dict[str, Any] = {"name": TOOL_NAME, "version": __version__,
                              "semanticVersion": __version__,
                              "rules": [_descriptor(rule, options.docs_url) for rule in rules]}
    if options.docs_url:
        driver["informationUri"] = options.docs_url
    log = {"$schema": SCHEMA_URI, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver},
                     "invocations": [{"executionSuccessful": True}],
                     "results": results}]}
    return json.dumps(log, indent=2) + "\n"


def why(doc: str) -> str:
    """The "Why:" paragraph of a rule's docstring, without the label, on one line."""
    for paragraph in doc.split("\n\n"):
        if paragraph.startswith("Why:"):
            return " ".join(paragraph[len("Why:"):].split())
    return ""


def _descriptor(rule: Rule, docs_url: str | None) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": why(rule.doc) or rule.summary},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.level], "enabled": rule.default},
        "properties": {"tags": [rule.family]},
    }
    if docs_url:
        descriptor["helpUri"] = f"{docs_url}#{rule.id.lower()}"
    return descriptor


def _result(problem: Problem, rule_index: int | None, fingerprint_value: str) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact_location(problem.path)}
    if problem.line > 0:
        region = {"startLine": problem.line}
        if problem.column > 0:
            region["startColumn"] = problem.column
        physical["region"] = region
    result: dict[str, Any] = {"ruleId": problem.rule}
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    result.update({
        "level": SARIF_LEVEL.get(problem.level, "warning"),
        "message": {"text": problem.message or problem.name or problem.rule},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT: fingerprint_value},
    })
    if problem.fix is not None:
        result["fixes"] = [sarif_fix(problem.fix)]
    return result


def sarif_fix(fix: Fix) -> dict[str, Any]:
    """A fix as SARIF's ``fix``: per file, the regions replaced and their new text (a
    file to create: an empty region at its start)."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for edit in fix.edits:
        region: dict[str, int] = {"charOffset": 0, "charLength": 0} if edit.create else {
            "startLine": edit.line, "startColumn": edit.column,
            "endLine": edit.end_line, "endColumn": edit.end_column}
        changes.setdefault(edit.path, []).append(
            {"deletedRegion": region, "insertedContent": {"text": edit.replacement}})
    return {"description": {"text": fix.description},
            "artifactChanges": [{"artifactLocation": artifact_location(path),
                                 "replacements": replacements}
                                for path, replacements in changes.items()]}


def artifact_location(path: str) -> dict[str, str]:
    """A repo-relative path as a URI reference relative to %SRCROOT% (an absolute path, as
    a user may name one outside the repository, as a file: URI)."""
    while path.startswith("./"):
        path = path[2:]
    # The file name's bytes, percent-encoded: a name that is not UTF-8 reaches here with
    # surrogate escapes (os.fsdecode), which cannot be encoded as text.
    encoded = quote(os.fsencode(path), safe="/")
    if path.startswith("/"):
        return {"uri": "file://" + encoded}
    return {"uri": encoded, "uriBaseId": SRCROOT}


def fingerprint(problem: Problem, line_text: str) -> str:
    """A hash of the rule, path, message and flagged line's text (whitespace-insensitive)."""
    parts = (problem.rule, problem.path, problem.message, " ".join(line_text.split()))
    return hashlib.sha256("\0".join(parts).encode("utf-8", errors="replace")).hexdigest()[:32]
