"""The rule registry against the catalogue, and the generated docs against the registry."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from expectations import expected_problems

from validation.docs import render
from validation.registry import Rule, all_rules

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules.md"

# The rule catalogue (the contract for IDs, names and levels): id -> (slug, level).
CATALOGUE = {
    "STR001": ("unknown-location", "error"), "STR002": ("unknown-environment", "error"),
    "STR003": ("dag-depth", "error"), "STR004": ("bad-name", "warning"),
    "STR005": ("role-extension", "error"), "STR006": ("missing-readme", "warning"),
    "STR007": ("imports-not-package", "error"), "STR008": ("missing-path", "error"),
    "DAG001": ("import-error", "error"), "DAG002": ("import-crash", "error"),
    "DAG003": ("multiple-dags", "error"), "DAG004": ("no-dag", "error"),
    "DAG005": ("dag-id-convention", "error"), "DAG006": ("task-id-chars", "error"),
    "DAG007": ("role-missing", "error"), "DAG008": ("role-wrong-env", "error"),
    "DAG009": ("role-name-chars", "error"), "DAG010": ("cross-env-reference", "error"),
    "DAG011": ("dynamic-start-date", "error"), "DAG012": ("bad-schedule", "error"),
    "DAG013": ("high-memory-incomplete", "error"), "DAG014": ("service-account-mismatch", "error"),
    "DAG015": ("insecure-pod", "error"), "DAG016": ("missing-owner", "warning"),
    "DAG017": ("unpinned-image", "warning"), "DAG018": ("foreign-import", "error"),
    "DAG019": ("hardcoded-secret", "error"), "DAG020": ("slow-import", "warning"),
    "DAG021": ("role-other-project", "warning"), "DAG022": ("airflow3-deprecation", "warning"),
    "ROL001": ("yaml-syntax", "error"), "ROL002": ("not-a-mapping", "error"),
    "ROL003": ("iam-builder-rejects", "error"), "ROL004": ("role-file-prefix", "error"),
    "ROL005": ("role-name-format", "error"), "ROL006": ("role-name-too-long", "error"),
    "ROL007": ("iam-role-name-mismatch", "error"), "ROL008": ("iam-role-name-required", "error"),
    "ROL009": ("secrets-value", "error"), "ROL010": ("duplicate-key", "error"),
    "ROL011": ("presence-flag-false", "warning"), "ROL012": ("empty-policy", "warning"),
    "ROL013": ("s3-path-format", "error"), "ROL014": ("s3-path-no-objects", "warning"),
    "ROL015": ("kms-arn", "error"), "ROL016": ("unused-role", "warning"),
    "SEC001": ("cross-env-write", "error"), "SEC002": ("bucket-wildcard", "error"),
    "SEC003": ("shared-bucket-write", "error"), "SEC004": ("control-plane-write", "error"),
    "SEC005": ("cadet-deployer", "error"), "SEC006": ("broad-grant", "error"),
    "IMP001": ("module-prefix", "error"), "IMP002": ("unknown-project", "error"),
    "IMP003": ("import-error", "error"), "IMP004": ("defines-dag", "error"),
    # Beyond the catalogue, in its families:
    "STR009": ("unused-suppression", "warning"),
    "STR010": ("airflow-root-file", "error"),
    "DAG023": ("network-at-import", "warning"),
    "DAG024": ("pod-without-role", "warning"),
}
OPT_IN = {"DAG022"}  # "off by default" in the catalogue
RULES = list(all_rules().values())


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_rule_matches_the_catalogue(rule: Rule) -> None:
    assert (rule.slug, rule.level.value) == CATALOGUE[rule.id]
    assert rule.default is (rule.id not in OPT_IN)


# A rule's docstring: a summary line, "Why:", for a rule with a fix "Fix:", then "Bad:"
# and "Good:" examples indented by 4 spaces (docs/rules.md shows them as code).
DOC_TEMPLATE = re.compile(
    r"[^\n]+\n\nWhy: [^\n]+(\n[^\n]+)*"
    r"(\n\nFix: [^\n]+(\n[^\n]+)*)?"
    r"\n\nBad:\n\n(    [^\n]*\n)+"
    r"\nGood:\n\n(    [^\n]*\n)*    [^\n]+"
)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_rule_is_documented_with_why_and_examples(rule: Rule) -> None:
    assert DOC_TEMPLATE.fullmatch(rule.doc), rule.doc


FIXABLE = {"DAG001", "DAG005", "DAG006", "ROL003", "ROL007", "STR006"}


def test_the_rules_with_a_fix_say_so() -> None:
    assert {rule.id for rule in RULES if rule.fix_doc} == FIXABLE
    assert all(f"| [{rule_id}](#{rule_id.lower()}) |" in DOCS.read_text(encoding="utf-8")
               for rule_id in FIXABLE)
    assert "| [DAG005](#dag005) | dag-id-convention | E | yes |" in render()
    assert "| [DAG002](#dag002) | import-crash | E |  |" in render()


def test_docs_are_generated_from_the_registry() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/rules.md is stale: run .venv/bin/python -m validation.docs > docs/rules.md")


# -- every rule has a failing fixture -------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@functools.cache
def rules_with_failing_fixtures() -> set[str]:
    """Rules that some fixture expects: an ``# expect:`` marker in a fixture file, or a
    case of the table-driven tests (paths for STR, role texts for ROL)."""
    import test_roles
    import test_structure

    found = {rule for _, _, rule, _ in expected_problems(FIXTURES)}
    found |= {rule for param in test_structure.CASES for rule, _ in param.values[2]}
    found |= {rule for *_, expected in test_roles.BAD_CASES for rule, _, _ in expected}
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_rule_has_a_failing_fixture(rule: Rule) -> None:
    assert rule.id in rules_with_failing_fixtures()
