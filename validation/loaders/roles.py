"""Load a role file (``environments/<env>/roles/<name>.yaml``) into RoleFacts.

The file is parsed with a SafeLoader subclass that records where every node is and which
keys repeat, checked against iam_builder's JSON schema (every error, not just the first)
and, when nothing stands in the way, built into a policy by iam_builder itself. Nothing
here raises: unreadable bytes, invalid YAML and crashes of iam_builder all become facts.
"""

from __future__ import annotations

import codecs
import copy
import datetime
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import iam_builder.iam_builder
import yaml
from iam_builder.exceptions import IAMValidationError
from iam_builder.iam_builder import build_iam_policy
from iam_builder.iam_schema import IAM_SCHEMA
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import validator_for
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from validation.facts import ErrorFacts, RoleFacts, Span
from validation.loaders.files import Unreadable, read_bytes, text_digest

MAX_NODES = 100_000  # nodes after expanding aliases; real role files have a few dozen
MAX_CHARS = 1_000_000  # role files are a few hundred bytes; PyYAML reads ~50 kB a second
MAX_BYTES = 4 * MAX_CHARS  # read at most this much (UTF-8 takes up to 4 bytes a character)
MAX_FLOW_DEPTH = 100  # PyYAML's scanner is quadratic in the nesting of [ and {
MAX_TEXT = 120  # longest value quoted in a message
MERGE_TAG = "tag:yaml.org,2002:merge"
# Line breaks PyYAML counts that an editor (and validation.fix) may not: no spans then.
UNUSUAL_BREAKS = ("\x85", "\u2028", "\u2029")
NULL_TAG = "tag:yaml.org,2002:null"
# build_iam_policy rejects a database name when re.search(r"[^a-zA-Z0-9\_\*\s]", name)
DATABASE_NAME_PATTERN = r"^[a-zA-Z0-9_*\s]*$"

SchemaError = tuple[str, str, str, list[str]]


def _strict_schema() -> dict[str, Any]:
    """iam_builder's schema, tightened where its builder crashes on what the schema allows."""
    schema = copy.deepcopy(IAM_SCHEMA)
    properties = schema.get("properties", {})
    for section in ("athena", "s3", "secretsmanager"):  # else AttributeError / TypeError
        properties.get(section, {}).setdefault("type", "object")
    properties.get("secretsmanager", {}).setdefault("required", ["read_only"])  # ValueError
    names = properties.get("allowed_database_names", {}).get("items", {})
    names.setdefault("pattern", DATABASE_NAME_PATTERN)  # IAMValidationError, first name only
    return schema


_VALIDATOR = validator_for(IAM_SCHEMA)(_strict_schema())
# iam_builder's validate_iam calls jsonschema.validate, which checks the (constant) schema
# itself on every call before the config: 90 % of the cost of building a role. It is
# checked once here; each build then checks the config only, with the same schema, the
# same validator class and the same error (see _validate_iam).
validator_for(IAM_SCHEMA).check_schema(IAM_SCHEMA)
_IAM_VALIDATOR = validator_for(IAM_SCHEMA)(IAM_SCHEMA)


class DocumentError(Exception):
    """A document we refuse to load: too big, too deep, or with recursive/exploding aliases."""

    def __init__(self, message: str, position: tuple[int, int]) -> None:
        super().__init__(message)
        self.position = position


# -- reading and parsing ------------------------------------------------------------------


def load_role(root: Path, rel_path: str, env: str, name: str) -> RoleFacts:
    """The facts of the role file at ``root / rel_path``; never raises."""
    facts = RoleFacts(path=rel_path, env=env, name=name)
    try:
        config = _parse_file(root / rel_path, facts)
        if isinstance(config, dict):
            _check_config(config, facts)
    except Exception as exc:  # a bug in this loader is still reported, never a traceback
        error = ErrorFacts(type(exc).__name__, f"the role loader failed: {_clip(exc)}", 1, 1)
        if facts.yaml_error is None and not isinstance(facts.config, dict):
            facts.yaml_error = error
        else:
            facts.build_error = error
    return facts


def _parse_file(path: Path, facts: RoleFacts) -> Any:
    """The document as PyYAML's SafeLoader builds it; positions and errors go to facts."""
    try:
        data = read_bytes(str(path), MAX_BYTES)
    except Unreadable as exc:
        facts.yaml_error = ErrorFacts("OSError", str(exc), 1, 1)
        return None
    text = _decode(data, facts)
    if text is None:
        return None
    try:
        document, loader = _load(text)
    except (yaml.YAMLError, DocumentError, RecursionError) as exc:
        facts.yaml_error = _yaml_error(exc, text)
        return None
    facts.positions = loader.positions
    facts.duplicate_keys = loader.duplicates
    facts.digest = text_digest(text)
    if not any(mark in text for mark in UNUSUAL_BREAKS):
        facts.scalar_spans, facts.scalar_quotes = loader.spans()
    facts.config = _plain(document)
    return document


def _load(text: str) -> tuple[Any, _RoleLoader]:
    _check_text(text)
    loader = _RoleLoader(text)  # the reader already rejects unprintable characters here
    try:
        return loader.load_role(), loader
    finally:
        loader.dispose()


def _check_text(text: str) -> None:
    """Refuse, before PyYAML reads it, text that would take it seconds to read."""
    if len(text) > MAX_CHARS:
        raise DocumentError(f"the file has {len(text)} characters, too many for a role file "
                            f"(at most {MAX_CHARS})", (1, 1))
    depth = 0
    for bracket in re.finditer(r"[\[\]{}]", text):  # an upper bound: brackets in strings count
        depth = depth + 1 if bracket.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_FLOW_DEPTH:
            message = f"[ and {{ are nested more than {MAX_FLOW_DEPTH} levels deep"
            raise DocumentError(message, _text_position(text, bracket.start()))


def _decode(data: bytes, facts: RoleFacts) -> str | None:
    """The text of the file: UTF-8 (a BOM is fine), or UTF-16 with a BOM, as YAML allows."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    encoding = "utf-16" if utf16 else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        byte = data[exc.start:exc.start + 1].hex()
        message = f"the file is not valid {'UTF-16' if utf16 else 'UTF-8'} (byte 0x{byte})"
        facts.yaml_error = ErrorFacts("UnicodeDecodeError", message, line, column)
        return None


def _yaml_error(exc: BaseException, text: str) -> ErrorFacts:
    kind = type(exc).__name__
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = ", ".join(part for part in (exc.context, exc.problem) if part)
        position = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return ErrorFacts(kind, message or str(exc), *position)
    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character if isinstance(exc.character, int) else 0
        message = f"unacceptable character #x{character:04x}: {exc.reason}"
        return ErrorFacts(kind, message, *_text_position(text, exc.position))
    if isinstance(exc, DocumentError):
        return ErrorFacts(kind, str(exc), *exc.position)
    if isinstance(exc, RecursionError):
        return ErrorFacts(kind, "the document is nested too deeply to read", 1, 1)
    return ErrorFacts(kind, _clip(exc), 1, 1)


def _text_position(text: str, index: int) -> tuple[int, int]:
    before = text[: max(index, 0)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


class _RoleLoader(yaml.SafeLoader):
    """A SafeLoader that records where every node is and which keys repeat.

    Positions are recorded on the composed node graph before construction, because
    construction flattens merge keys (``<<: *base``) into the mapping in place.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.positions: dict[str, tuple[int, int]] = {}
        self.duplicates: list[tuple[str, int, int, int]] = []
        self._checked: set[int] = set()
        # pointer -> the plain or quoted scalar written there; how often each node is used
        self._scalars: dict[str, ScalarNode] = {}
        self._uses: dict[int, int] = {}

    def spans(self) -> tuple[dict[str, Span], dict[str, str]]:
        """Where each scalar written once in the file is, and the quote of quoted ones."""
        once = {pointer: node for pointer, node in self._scalars.items()
                if self._uses[id(node)] == 1}
        spans = {pointer: Span(node.start_mark.line + 1, node.start_mark.column + 1,
                               node.end_mark.line + 1, node.end_mark.column + 1)
                 for pointer, node in once.items()}
        return spans, {pointer: node.style for pointer, node in once.items() if node.style}

    def _note(self, node: Node, pointer: str, written: bool) -> None:
        self._uses[id(node)] = self._uses.get(id(node), 0) + 1
        if written and isinstance(node, ScalarNode) and node.style in (None, "'", '"'):
            self._scalars[pointer] = node

    def load_role(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_size(node)
        self._record(node, "", _mark(node))
        return self.construct_document(node)

    def _record(self, node: Node, pointer: str, position: tuple[int, int],
                written: bool = True) -> None:
        """``written``: the node is written here, not brought in by a merge key."""
        self.positions[pointer] = position
        self._note(node, pointer, written)
        if isinstance(node, MappingNode):
            for merged in _merged_mappings(node):
                self._record_pairs(merged, pointer, False)
            self._record_pairs(node, pointer, written)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self._record(item, f"{pointer}/{index}", _mark(item), written)

    def _record_pairs(self, node: MappingNode, pointer: str, written: bool) -> None:
        check = id(node) not in self._checked  # an aliased mapping is checked once
        self._checked.add(id(node))
        first_lines: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == MERGE_TAG:
                continue
            child = f"{pointer}/{self._segment(key)}"
            key_position = _mark(key)
            if check and child in first_lines:
                self.duplicates.append((child, *key_position, first_lines[child]))
            first_lines.setdefault(child, key_position[0])
            self.positions[child + "#key"] = key_position
            self._note(key, child + "#key", written)
            self._record(value, child, key_position if _is_blank(value) else _mark(value),
                         written)

    def _segment(self, key: Node) -> str:
        if not isinstance(key, ScalarNode):
            return "?"  # construction rejects the unhashable key later
        return escape_pointer(key_text(self.construct_object(key)))


def _merged_mappings(node: MappingNode) -> Iterator[MappingNode]:
    """Mappings merged into node by ``<<``, lowest precedence first."""
    for key, value in node.value:
        if key.tag != MERGE_TAG:
            continue
        if isinstance(value, MappingNode):
            yield value
        elif isinstance(value, SequenceNode):  # earlier entries win over later ones
            yield from (item for item in reversed(value.value) if isinstance(item, MappingNode))


def _check_size(root: Node) -> None:
    """Refuse recursive aliases and alias bombs before anything walks the expanded tree."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise DocumentError("an alias refers to a node that contains it", _mark(node))
        active.add(id(node))
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1 + sum(size(child) for child in children)
        if total > MAX_NODES:
            message = f"the document expands to more than {MAX_NODES} values through aliases"
            raise DocumentError(message, _mark(node))
        active.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _is_blank(node: Node) -> bool:
    """An empty value (``key:`` and nothing): its position is the key's, not the line end."""
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG and node.value == ""


# -- plain data ---------------------------------------------------------------------------


def key_text(key: Any) -> str:
    """A mapping key as text: strings as they are, other scalars in their YAML spelling."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def escape_pointer(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def pointer_of(path: Any) -> str:
    """The JSON pointer of a path of keys and indexes (as jsonschema reports them)."""
    return "".join(
        f"/{index}" if isinstance(index, int) and not isinstance(index, bool)
        else f"/{escape_pointer(key_text(index))}"
        for index in path
    )


def _plain(value: Any) -> Any:
    """The document as JSON-able data: string keys, lists, and text for dates and bytes."""
    if isinstance(value, dict):
        return {key_text(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=repr)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)  # dates and datetimes


# -- iam_builder --------------------------------------------------------------------------


def _check_config(config: dict[Any, Any], facts: RoleFacts) -> None:
    """Every schema error, then the policy iam_builder builds when nothing stands in the way."""
    errors = [entry for error in _VALIDATOR.iter_errors(config) for entry in _entries(error)]
    errors.extend(_cadet_errors(config))
    facts.schema_errors = errors
    facts.sections_with_key = {
        detail: sections for pointer, keyword, detail, _ in errors
        if keyword == "additionalProperties" and pointer.count("/") == 1
        and (sections := _sections_with_key(detail))}
    if errors or _needs_missing_role_name(config):
        return  # the builder would stop at the first error, or crash with a bare KeyError
    try:
        facts.policy = _build_iam_policy(config)
    except Exception as exc:  # anything iam_builder raises is reported (ROL003)
        facts.build_error = ErrorFacts(type(exc).__name__, _clip(exc), 1, 1)


def _sections_with_key(key: str) -> list[str]:
    """The top-level sections of iam_builder's schema that have key, e.g. s3 for read_only."""
    properties = IAM_SCHEMA.get("properties", {})
    return [name for name, schema in properties.items()
            if key in schema.get("properties", {})]


def _validate_iam(config: dict[Any, Any]) -> None:
    """iam_builder.iam_schema.validate_iam, less jsonschema.validate's check of the schema
    itself (done once, at import)."""
    error = best_match(_IAM_VALIDATOR.iter_errors(config))
    if error is not None:
        raise IAMValidationError(f"Invalid IAM configuration, error:\n{error}")


def _build_iam_policy(config: dict[Any, Any]) -> dict[str, Any]:
    """iam_builder's build_iam_policy, with _validate_iam in place of its validate_iam for
    the length of the call."""
    module: Any = iam_builder.iam_builder
    original, module.validate_iam = module.validate_iam, _validate_iam
    try:
        return build_iam_policy(config)
    finally:
        module.validate_iam = original


def _entries(error: ValidationError) -> list[SchemaError]:
    path = list(error.absolute_path)
    pointer = pointer_of(path)
    keyword = str(error.validator)
    instance, expected = error.instance, error.validator_value
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [key for key in instance if key not in allowed]
        return [(pointer_of([*path, key]), keyword, key_text(key), allowed) for key in extra]
    if keyword == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        return [(pointer, keyword, describe(instance), [str(item) for item in wanted])]
    if keyword == "required" and isinstance(instance, dict):
        return [(pointer, keyword, key, [key]) for key in expected if key not in instance]
    if keyword == "pattern":
        return [(pointer, keyword, _clip(instance), [str(expected)])]
    if keyword in ("oneOf", "anyOf") and isinstance(expected, list):
        shapes = [_shape(schema) for schema in expected if isinstance(schema, dict)]
        return [(pointer, keyword, describe(instance), shapes)]
    return [(pointer, keyword, _clip(error.message), [])]


def _shape(schema: dict[str, Any]) -> str:
    """A subschema in a few words: "string", "array of string"."""
    kind = str(schema.get("type", "any value"))
    items = schema.get("items")
    if kind == "array" and isinstance(items, dict) and "type" in items:
        return f"array of {items['type']}"
    return kind


def _cadet_errors(config: dict[Any, Any]) -> list[SchemaError]:
    """build_iam_policy's CaDeT guard, checked here so it is reported with the rest."""
    name = config.get("iam_role_name")
    if "is_cadet_deployer" in config and isinstance(name, str) and "cadet" not in name.lower():
        return [("/is_cadet_deployer", "cadet", name, ["cadet"])]
    return []


def _needs_missing_role_name(config: dict[Any, Any]) -> bool:
    """The builder reads config["iam_role_name"] for these keys and has no default (ROL008)."""
    if "iam_role_name" in config:
        return False
    secrets = config.get("secrets")
    return bool(
        config.get("glue_job")
        or isinstance(secrets, str)
        or secrets
        or "is_cadet_deployer" in config
    )


def describe(value: Any) -> str:
    """A value as a message shows it: "the string 'x'", "a list", "nothing (null)"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_clip(repr(value))}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value} (quote it to make it a string)"
    return f"a value of type {type(value).__name__}"


def _clip(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."
