"""Where things are in a role file: its YAML nodes by JSON pointer (RoleFacts.positions)."""

from __future__ import annotations

from collections.abc import Iterator

from validation.facts import RoleFacts


def has_content(role: RoleFacts) -> bool:
    """The file parsed to a mapping, so the content rules have something to check."""
    return role.yaml_error is None and isinstance(role.config, dict)


def segments(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def dotted(role: RoleFacts, pointer: str) -> str:
    """A pointer as the user writes it: "/s3/read_only/0" -> "s3.read_only[0]"."""
    text, value = "", role.config
    for segment in segments(pointer):
        if isinstance(value, list) and segment.isdigit():
            text += f"[{segment}]"
            value = value[int(segment)] if int(segment) < len(value) else None
        else:
            text += f".{segment}" if text else segment
            value = value.get(segment) if isinstance(value, dict) else None
    return text or "the document"


def position(role: RoleFacts, pointer: str) -> tuple[int, int]:
    """Where the node at pointer starts, or its nearest ancestor; line 1 when none is known."""
    while pointer not in role.positions and pointer:
        pointer = pointer.rsplit("/", 1)[0]
    return role.positions.get(pointer, (1, 1))


def key_position(role: RoleFacts, pointer: str) -> tuple[int, int]:
    return role.positions.get(pointer + "#key") or position(role, pointer)


def schema_flags(role: RoleFacts, pointer: str) -> bool:
    """ROL003 already reports the value at pointer (a wrong type, say)."""
    return any(error[0] == pointer for error in role.schema_errors)


def string_entries(role: RoleFacts, pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer, value) of each string in the list at pointer ("/s3/read_only");
    a value of the wrong type there is ROL003's."""
    value: object = role.config
    for segment in segments(pointer):
        value = value.get(segment) if isinstance(value, dict) else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield f"{pointer}/{index}", item
