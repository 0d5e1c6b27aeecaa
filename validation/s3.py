"""Pure helpers for the S3 paths of role files: normal form, bucket names, glob overlap.

A role file's S3 path is ``bucket/key`` as iam_builder expects it: it prefixes
``arn:aws:s3:::`` and uses the result as an IAM resource, where ``*`` matches any run of
characters (``/`` included) and ``?`` any one character.
"""

from __future__ import annotations

import re

ARN_PREFIX = "arn:aws:s3:::"
WILDCARDS = "*?"
# AWS's rules for new bucket names (general purpose buckets).
BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def normal_path(path: str) -> str:
    """The path as iam_builder wants it: no ``s3://``, S3 ARN prefix, leading ``/`` or blanks."""
    text = re.sub(r"\s+", "", path)
    for prefix in ("s3://", "s3a://", "s3n://", ARN_PREFIX):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
            break
    return text.lstrip("/")


def bucket_of(path: str) -> str:
    """The bucket part of a ``bucket/key`` path."""
    return path.split("/", 1)[0]


def has_wildcard(text: str) -> bool:
    return any(char in text for char in WILDCARDS)


def bucket_name_problem(bucket: str) -> str | None:
    """Why ``bucket`` is not a valid S3 bucket name, or None when it is."""
    if not 3 <= len(bucket) <= 63:
        return f"is {len(bucket)} characters long (3 to 63 allowed)"
    bad = sorted(set(re.sub(r"[a-z0-9.-]", "", bucket)))
    if bad:
        return f"contains {', '.join(repr(char) for char in bad)} (only a-z, 0-9, '.' and '-')"
    if not BUCKET_CHARS.fullmatch(bucket):
        return "must start and end with a lowercase letter or digit"
    if ".." in bucket:
        return "has two adjacent periods"
    if IP_ADDRESS.fullmatch(bucket):
        return "is formatted as an IP address"
    for prefix in RESERVED_PREFIXES:
        if bucket.startswith(prefix):
            return f"starts with the reserved prefix '{prefix}'"
    for suffix in RESERVED_SUFFIXES:
        if bucket.endswith(suffix):
            return f"ends with the reserved suffix '{suffix}'"
    return None


def suggested_bucket(bucket: str) -> str:
    """A close valid spelling: lowercase, with '-' for anything else."""
    text = re.sub(r"[^a-z0-9.-]+", "-", bucket.lower())
    return re.sub(r"\.{2,}", ".", text).strip("-.")


def globs_overlap(first: str, second: str) -> bool:
    """True when some string matches both IAM-style patterns (``*`` any run, ``?`` one).

    Walks the product of the two patterns' automata: a state is a position in each
    pattern; the patterns overlap when both ends can be reached together.
    """
    start = (0, 0)
    seen = {start}
    todo = [start]
    while todo:
        i, j = todo.pop()
        if (i, j) == (len(first), len(second)):
            return True
        for state in _next_states(first, second, i, j):
            if state not in seen:
                seen.add(state)
                todo.append(state)
    return False


def _next_states(first: str, second: str, i: int, j: int) -> list[tuple[int, int]]:
    states = []
    if i < len(first) and first[i] == "*":  # the star matches nothing
        states.append((i + 1, j))
    if j < len(second) and second[j] == "*":
        states.append((i, j + 1))
    for i_next, char_1 in _steps(first, i):  # both read the same one character
        for j_next, char_2 in _steps(second, j):
            if char_1 is None or char_2 is None or char_1 == char_2:
                states.append((i_next, j_next))
    return states


def _steps(pattern: str, index: int) -> list[tuple[int, str | None]]:
    """Where reading one character from position index leads, and which character it must
    be (None: any)."""
    if index >= len(pattern):
        return []
    char = pattern[index]
    if char == "*":
        return [(index, None)]
    if char == "?":
        return [(index + 1, None)]
    return [(index + 1, char)]
