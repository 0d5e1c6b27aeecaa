"""What a DAG child tells the validator: its Outcome as JSON, decoded strictly, as data.

A child encodes the Outcome of its import and writes it to its pipe; the validator decodes
it against the Outcome type, and nothing else: msgspec (a C library made for typed JSON)
builds the dataclasses from the document, checking each value has exactly its field's type
(no coercion: ``true`` is not an int, ``1`` is not a bool, a string is not a number),
numbers are finite, tuples have their length, and nesting stays within the interpreter's
recursion limit. Unknown keys are ignored and missing ones take their defaults. No code
runs: a forged result can only say something about its own file, which a file can do
anyway.

It is about ten times faster than ``json`` with ``validation.cache.codec`` (which stays for
the cache, where entries must match their fields exactly): a 300-file run spent about a
second of CPU time writing and reading results, more than a tenth of the imports'.
"""

from __future__ import annotations

import functools
from typing import Any

from validation.loaders.dag.worker import Outcome


class ResultError(ValueError):
    """A child's answer that is not the JSON of an Outcome."""


# msgspec is imported when a result is first written or read: a run that imports no DAG
# file (the cache had them all, or only roles were named) does not load it.


@functools.lru_cache(maxsize=1)
def _encoder() -> Any:
    import msgspec

    return msgspec.json.Encoder()


@functools.lru_cache(maxsize=1)
def _decoder() -> Any:
    import msgspec

    return msgspec.json.Decoder(Outcome)


def encode(outcome: Outcome) -> bytes:
    """The JSON of ``outcome`` (a child's answer)."""
    return _encoder().encode(outcome)


def decode(data: bytes | str) -> Outcome:
    """The Outcome a child's answer holds; ResultError for anything else."""
    import msgspec

    try:
        outcome = _decoder().decode(data)
    except (msgspec.DecodeError, RecursionError) as error:
        raise ResultError(str(error) or type(error).__name__) from None
    if not isinstance(outcome, Outcome):  # pragma: no cover - the decoder's type
        raise ResultError("not an Outcome")
    return outcome
