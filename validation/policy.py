"""What a role file grants, as data: a policy document as a set of :class:`Access`
entries, and what a change of role files added and removed (:class:`PolicyDiff`).
Building policies from files at a git ref is validation/vcs/policy_diff.py; printing is
the CLI's, through validation/reporters/policy.py.

A policy is compared as a set of :class:`Access` entries, one per (effect, action,
resource, condition) that its statements expand to: iam_builder 4.18 emits Allow and Deny
statements with Action and Resource (strings or lists), and a Condition on a few
(iam:PassRole, Bedrock's regions); NotAction and NotResource, which it does not emit,
would be kept whole as one "NotAction ..." entry. Wildcards are compared as plain
strings: ``s3:Get*`` and ``s3:GetObject`` are different entries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REVIEW_ENVIRONMENTS = ("prod",)  # new access there is flagged for review


@dataclass(frozen=True, order=True)
class Access:
    """One (action, resource) pair a statement allows or denies, under its condition."""

    effect: str  # Allow | Deny
    action: str
    resource: str
    condition: str = ""  # the statement's Condition as compact JSON, "" when it has none

    def as_dict(self) -> dict[str, Any]:
        return {"effect": self.effect, "action": self.action, "resource": self.resource,
                "condition": json.loads(self.condition) if self.condition else None}


def expand(policy: Mapping[str, Any]) -> frozenset[Access]:
    """Every (effect, action, resource, condition) a policy document's statements hold."""
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    found: set[Access] = set()
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, Mapping):
            continue
        effect = str(statement.get("Effect", "Allow"))
        condition = statement.get("Condition")
        when = json.dumps(condition, sort_keys=True, separators=(",", ":")) if condition else ""
        found |= {Access(effect, action, resource, when)
                  for action in _listed(statement, "Action")
                  for resource in _listed(statement, "Resource")}
    return frozenset(found)


def _listed(statement: Mapping[str, Any], key: str) -> list[str]:
    """Action or Resource as a list; NotAction / NotResource as one entry naming them."""
    if f"Not{key}" in statement:
        values = statement[f"Not{key}"]
        values = values if isinstance(values, list) else [values]
        return [f"Not{key} " + ", ".join(sorted(str(value) for value in values))]
    values = statement.get(key, [])
    return [str(value) for value in (values if isinstance(values, list) else [values])]


@dataclass
class RoleChange:
    """What one changed role file grants now that it did not at the base, and back."""

    path: str
    env: str
    role: str
    status: str  # added | removed | modified
    added: list[Access] = field(default_factory=list)
    removed: list[Access] = field(default_factory=list)
    error: str | None = None  # why the file builds no policy now
    base_error: str | None = None  # why it built none at the base

    @property
    def review(self) -> bool:
        """New access in an environment flagged for review: an Allow added, a Deny gone."""
        widened = any(a.effect == "Allow" for a in self.added) or \
            any(a.effect == "Deny" for a in self.removed)
        return self.env in REVIEW_ENVIRONMENTS and widened

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "env": self.env, "role": self.role, "status": self.status,
                "review": self.review, "added": [a.as_dict() for a in self.added],
                "removed": [a.as_dict() for a in self.removed], "error": self.error,
                "base_error": self.base_error}


@dataclass
class PolicyDiff:
    ref: str
    base: str  # the commit compared with
    roles: list[RoleChange]
