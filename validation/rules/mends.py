"""Building fixes (problems.Fix) from positions the facts hold: a rule that has the one
right mend for what it found attaches it to its Finding with these helpers. Pure: the
edits are plain data, applied by validation.fix when the user asks (``--fix``)."""

from __future__ import annotations

from validation.facts import LiteralSite, RoleFacts, Span
from validation.problems import Edit, Fix


def replace(path: str, digest: str, span: Span, replacement: str) -> Edit:
    """The text at ``span`` of the file at ``path`` (as read, ``digest``) becomes
    ``replacement``."""
    return Edit(path, span.line, span.column, span.end_line, span.end_column, replacement,
                digest)


def string_literal(path: str, digest: str, site: LiteralSite, value: str) -> Edit:
    """The literal at ``site`` becomes the plain string ``value``, in the same quotes (an
    f-string or raw prefix is dropped). ``value`` must need no escaping."""
    return replace(path, digest, site.span, f"{site.quote}{value}{site.quote}")


def yaml_scalar(role: RoleFacts, pointer: str, value: str) -> Edit | None:
    """The scalar at ``pointer`` of a role file (``pointer#key`` for a key) becomes
    ``value``, in the quotes it had; None when the file does not show where it is
    written (an alias, a merge key, a block scalar). ``value`` must be a plain word."""
    span = role.scalar_spans.get(pointer)
    if span is None:
        return None
    quote = role.scalar_quotes.get(pointer, "")
    return replace(role.path, role.digest, span, f"{quote}{value}{quote}")


def new_file(path: str, text: str) -> Edit:
    """Create the file at ``path`` with ``text``, when nothing is there."""
    return Edit(path, 0, 0, 0, 0, text, "", create=True)


def fix(description: str, *edits: Edit | None) -> Fix | None:
    """A Fix of ``edits``; None when any of them could not be made."""
    made = [edit for edit in edits if edit is not None]
    if not made or len(made) != len(edits):
        return None
    return Fix(description, tuple(made))
