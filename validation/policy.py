"""What a role file grants, as data: for ``--show-policy ROLE_FILE`` and ``--policy-diff REF``
(the CLI prints them, through validation.reporters.policy).

The policy is the one iam_builder builds (through the role loader, so a broken file is
reported, never a traceback). A policy is compared as a set of :class:`Access` entries,
one per (effect, action, resource, condition) that its statements expand to: iam_builder
4.18 emits Allow and Deny statements with Action and Resource (strings or lists), and a
Condition on a few (iam:PassRole, Bedrock's regions); NotAction and NotResource, which it
does not emit, would be kept whole as one "NotAction ..." entry. Wildcards are compared as
plain strings: ``s3:Get*`` and ``s3:GetObject`` are different entries.

The files at REF are read with ``git show`` (from the merge base of REF and HEAD, as for
--changed-since) into a temporary folder: the working tree is never touched. Nothing
here needs AWS credentials or the network.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validation.facts import RoleFacts
from validation.loaders.repo import scan_repo
from validation.loaders.roles import load_role
from validation.problems import Level
from validation.registry import Subject
from validation.routes import Kind, route
from validation.run.checks import check_facts
from validation.vcs.changes import ChangesError, changes_since
from validation.vcs.git import old_text

REVIEW_ENVIRONMENTS = ("prod",)  # new access there is flagged for review


class PolicyUsageError(Exception):
    """A wrong file, ref or format: a usage error (exit status 2)."""


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


# -- building a role file's policy --------------------------------------------------------


def build(root: Path, path: str) -> tuple[dict[str, Any] | None, str | None]:
    """(policy, None) for the role file at ``root / path``, or (None, why it does not build)."""
    where = route(path)
    facts = load_role(root, path, where.env or "", where.name or Path(path).stem)
    if facts.policy is not None:
        return facts.policy, None
    return None, why_not(root, facts)


def why_not(root: Path, facts: RoleFacts) -> str:
    """Why the loader built no policy: the first error the role rules report, with its
    line (ROL001-ROL003 and ROL008 say why a file does not build)."""
    repo = scan_repo(root, (facts.env,))
    problems = sorted(problem for problem in check_facts(Subject.ROLE, facts.path, facts, repo)
                      if problem.level is Level.ERROR)
    if not problems:
        return "iam_builder builds no policy from it"
    first, more = problems[0], len(problems) - 1
    return (f"line {first.line}: {first.rule} {first.message}"
            + (f" (and {more} more error{'s' * (more > 1)})" if more else ""))


def build_at(root: Path, base: str, path: str) -> tuple[dict[str, Any] | None, str | None]:
    """The policy of the role file as it was at ``base``, read with ``git show`` into a
    temporary folder."""
    text = old_text(root, base, path)
    if text is None:
        return None, None
    with tempfile.TemporaryDirectory(prefix="validation-policy-") as folder:
        copy = Path(folder) / path
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
        return build(Path(folder), path)


# -- --policy-diff ------------------------------------------------------------------------


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


def diff_policies(root: Path, ref: str, environments: Iterable[str]) -> PolicyDiff:
    """The access added and removed by every role file changed since ``ref``."""
    try:
        changes = changes_since(root, ref)
    except ChangesError as error:
        raise PolicyUsageError(f"--policy-diff: {error}") from None
    wanted = set(environments)
    roles = []
    for path in sorted((*changes.changed, *changes.deleted)):
        where = route(path)
        if where.kind is Kind.ROLE and where.env in wanted:
            roles.append(_role_change(root, changes.base, path, path in changes.deleted))
    return PolicyDiff(ref, changes.base, roles)


def _role_change(root: Path, base: str, path: str, deleted: bool) -> RoleChange:
    where = route(path)
    before, base_error = build_at(root, base, path)
    existed = before is not None or base_error is not None
    after, error = (None, None) if deleted else build(root, path)
    status = "removed" if deleted else "modified" if existed else "added"
    old, new = expand(before or {}), expand(after or {})
    if error is not None:
        new = old  # what it will grant is unknown: show no change, and the error
    return RoleChange(path, where.env or "", where.name or "", status, sorted(new - old),
                      sorted(old - new), error, base_error)
