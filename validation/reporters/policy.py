"""``--policy-diff`` as text, JSON, GitHub workflow commands and step-summary Markdown.

Each returns a string; only the CLI prints. One line (or table row) per access entry:
``+`` added, ``-`` removed, with the effect, action, resource and condition.
"""

from __future__ import annotations

import json

from validation.policy import Access, PolicyDiff, RoleChange
from validation.reporters.base import plural
from validation.reporters.github import escape_data, escape_property

REVIEW = "NEW ACCESS IN PROD: review"


def _heading(role: RoleChange) -> str:
    return f"{role.path} ({role.env}, {role.status})"


def _by_resource(access: Access) -> tuple[str, str, str, str]:
    return access.effect, access.resource, access.condition, access.action


def _entries(role: RoleChange) -> list[str]:
    """``+``/``-`` lines, actions aligned, grouped by resource."""
    entries = [("+", a) for a in sorted(role.added, key=_by_resource)] + \
        [("-", a) for a in sorted(role.removed, key=_by_resource)]
    width = max((len(access.action) for _, access in entries), default=0)
    return [f"  {sign} {a.effect:<5} {a.action:<{width}}  {a.resource}"
            + (f"  when {a.condition}" if a.condition else "") for sign, a in entries]


def _notes(role: RoleChange, ref: str) -> list[str]:
    notes = []
    if role.error:
        notes.append(f"  ! builds no policy now: {role.error}")
    if role.base_error:
        notes.append(f"  ! built no policy at {ref}: {role.base_error}")
    if not (role.added or role.removed or role.error):
        notes.append("  no change in access")
    return notes


def text(diff: PolicyDiff) -> str:
    """A block per changed role file, then a summary line."""
    lines = []
    for role in diff.roles:
        lines.append(_heading(role) + (f"  {REVIEW}" if role.review else ""))
        lines += _entries(role)
        lines += _notes(role, diff.ref)
        lines.append("")
    lines.append(summary_line(diff))
    return "\n".join(lines) + "\n"


def summary_line(diff: PolicyDiff) -> str:
    if not diff.roles:
        return f"No role file changed since {diff.ref}."
    added = sum(len(role.added) for role in diff.roles)
    removed = sum(len(role.removed) for role in diff.roles)
    review = [role.role for role in diff.roles if role.review]
    flagged = f"; review new access in prod: {', '.join(review)}" if review else ""
    return (f"{plural(len(diff.roles), 'role file')} changed since {diff.ref}: "
            f"{added} access entries added, {removed} removed{flagged}.")


def to_json(diff: PolicyDiff) -> str:
    document = {"ref": diff.ref, "base": diff.base,
                "roles": [role.as_dict() for role in diff.roles]}
    return json.dumps(document, indent=2) + "\n"


def github(diff: PolicyDiff) -> str:
    """The text, with a warning annotation on each prod role that gains access and an
    error on each role file that builds no policy."""
    commands = []
    for role in diff.roles:
        if role.review:
            gained = [a for a in role.added if a.effect == "Allow"] + \
                [a for a in role.removed if a.effect == "Deny"]
            noun = "access entry" if len(gained) == 1 else "access entries"
            message = (f"{role.role} gains {len(gained)} {noun} in prod "
                       "(see the step summary): review before merging")
            commands.append(f"::warning file={escape_property(role.path)},"
                            f"title={escape_property('new access in prod')}::"
                            f"{escape_data(message)}")
        if role.error:
            commands.append(f"::error file={escape_property(role.path)},"
                            f"title={escape_property('role builds no policy')}::"
                            f"{escape_data(role.error)}")
    return text(diff) + "".join(command + "\n" for command in commands)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _code(value: str) -> str:
    return f"`{_cell(value)}`" if value else ""


def markdown(diff: PolicyDiff) -> str:
    """The step summary: a table of the access entries per changed role file."""
    lines = [f"## What the role changes grant (since `{_cell(diff.ref)}`)", ""]
    if not diff.roles:
        return "\n".join(lines + ["No role file changed.", ""])
    for role in diff.roles:
        flag = " :warning: **new access in prod: review**" if role.review else ""
        lines += [f"### `{_cell(role.path)}` ({role.env}, {role.status}){flag}", ""]
        lines += [f"> {note.strip()}" for note in _notes(role, diff.ref)]
        entries = [("added", a) for a in role.added] + [("removed", a) for a in role.removed]
        if entries:
            lines += ["| change | effect | action | resource | condition |",
                      "|---|---|---|---|---|"]
            lines += [f"| {change} | {a.effect} | {_code(a.action)} | {_code(a.resource)} | "
                      f"{_code(a.condition)} |" for change, a in entries]
        lines.append("")
    lines += [summary_line(diff), ""]
    return "\n".join(lines)
