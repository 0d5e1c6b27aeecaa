"""The access each role file changed since a git ref adds and removes (``--policy-diff``),
and the policy of one role file (``--show-policy``).

The policy is the one iam_builder builds (through the role loader, so a broken file is
reported, never a traceback). The files at REF are read with ``git show`` (from the merge
base of REF and HEAD, as for --changed-since) into a temporary folder: the working tree
is never touched. Nothing here needs AWS credentials or the network.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from validation.facts import RoleFacts
from validation.loaders.repo import scan_repo
from validation.loaders.roles import load_role
from validation.policy import PolicyDiff, RoleChange, expand
from validation.problems import Level
from validation.registry import Subject
from validation.routes import Kind, route
from validation.run.checks import check_facts
from validation.vcs.changes import ChangesError, changes_since
from validation.vcs.git import old_text


class PolicyUsageError(Exception):
    """A wrong file, ref or format: a usage error (exit status 2)."""


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
