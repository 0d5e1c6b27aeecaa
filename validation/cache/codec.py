"""A strict codec between the fact dataclasses (validation.facts) and JSON values.

Driven by the type hints of the dataclasses: a value is written only if it has exactly the
type its field declares, and read back only if the JSON has exactly the shape the type
asks for. Anything else raises CodecError, never a guess: the cache (validation.cache.store)
reads files that sit in the user's repository, where anyone could have put them.

Supported types: str, int, float (finite), bool, None, enums of str or int values (as
their value), ``X | None``, list[X],
tuple[X, Y], tuple[X, ...], frozenset[X], dict[str, X], dataclasses of these, and Any,
which holds plain JSON data only (str, int, float, bool, None, lists, and dicts with str
keys; no tuples, which JSON would turn into lists).

Each type is compiled once into a pair of functions (encode, decode).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import sys
import types
import typing
from collections.abc import Callable, Iterable, Sized
from typing import Any, cast

MAX_DEPTH = 100  # nesting of Any values; facts are a few levels deep

Convert = Callable[[Any], Any]


class CodecError(ValueError):
    """A value or a JSON document that does not fit the declared type."""


def encode(value: Any, kind: Any) -> Any:
    """``value`` (of type ``kind``) as JSON data; CodecError if it does not fit."""
    return _compiled(kind)[0](value)


def decode(data: Any, kind: Any) -> Any:
    """A value of type ``kind`` from JSON data; CodecError if the data does not fit."""
    return _compiled(kind)[1](data)


def _fail(value: Any, kind: Any) -> CodecError:
    return CodecError(f"{type(value).__name__} does not fit {getattr(kind, '__name__', kind)}")


@functools.lru_cache(maxsize=None)
def _compiled(kind: Any) -> tuple[Convert, Convert]:  # noqa: C901 - one branch per type
    if kind in (bool, int, str):
        return _exact(kind), _exact(kind)
    if kind is float:
        return _float, _float
    if kind is None or kind is type(None):
        return _exact(type(None)), _exact(type(None))
    if kind is Any:
        return _plain, _plain
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _optional(kind, args)
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum(kind)
    if origin is list:
        return _sequence(list, list, list, args[0])
    if origin is frozenset:
        return _sequence(frozenset, _sorted, frozenset, args[0])
    if origin is tuple:
        return _tuple(args)
    if origin is dict and args[0] is str:
        return _dict(args[1])
    raise CodecError(f"unsupported type {kind}")


def _exact(kind: type) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not kind:
            raise _fail(value, kind)
        return value
    return convert


def _float(value: Any) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _fail(value, float)
    return float(value)


def _optional(kind: Any, args: tuple[Any, ...]) -> tuple[Convert, Convert]:
    others = [arg for arg in args if arg is not type(None)]
    if len(args) != 2 or len(others) != 1:
        raise CodecError(f"unsupported union {kind}")
    inner_encode, inner_decode = _compiled(others[0])
    return (lambda value: None if value is None else inner_encode(value),
            lambda data: None if data is None else inner_decode(data))


def _dataclass(cls: Any) -> tuple[Convert, Convert]:
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    fields = [(field.name, _compiled(hints[field.name])) for field in dataclasses.fields(cls)]
    names = {name for name, _ in fields}

    def encode_one(value: Any) -> Any:
        if type(value) is not cls:
            raise _fail(value, cls)
        try:
            return {name: convert[0](getattr(value, name)) for name, convert in fields}
        except CodecError as error:
            raise CodecError(f"{cls.__name__}: {error}") from None

    def decode_one(data: Any) -> Any:
        if type(data) is not dict or data.keys() != names:
            raise CodecError(f"not an object with exactly the fields of {cls.__name__}")
        try:
            return cls(**{name: convert[1](data[name]) for name, convert in fields})
        except CodecError as error:
            raise CodecError(f"{cls.__name__}: {error}") from None

    return encode_one, decode_one


def _enum(kind: Any) -> tuple[Convert, Convert]:
    def encode_one(value: Any) -> Any:
        if type(value) is not kind or type(value.value) not in (str, int):
            raise _fail(value, kind)
        return value.value

    def decode_one(data: Any) -> Any:
        if type(data) not in (str, int):
            raise _fail(data, kind)
        try:
            return kind(data)
        except ValueError:
            raise CodecError(f"{data!r} is not a {kind.__name__}") from None

    return encode_one, decode_one


def _sequence(python: type, write: Convert, read: Convert, item: Any
              ) -> tuple[Convert, Convert]:
    item_encode, item_decode = _compiled(item)

    def encode_all(value: Any) -> Any:
        if type(value) is not python:
            raise _fail(value, python)
        items = cast(Iterable[Any], value)
        return list(write([item_encode(one) for one in items]))

    def decode_all(data: Any) -> Any:
        if type(data) is not list:
            raise _fail(data, python)
        return read([item_decode(one) for one in data])

    return encode_all, decode_all


def _sorted(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        raise CodecError("a set of values that cannot be ordered") from None


def _tuple(args: tuple[Any, ...]) -> tuple[Convert, Convert]:
    if len(args) == 2 and args[1] is Ellipsis:
        return _sequence(tuple, list, tuple, args[0])
    converts = [_compiled(arg) for arg in args]

    def check(value: Any, kind: type) -> None:
        if type(value) is not kind or len(cast(Sized, value)) != len(converts):
            raise CodecError(f"not a {len(converts)}-item {kind.__name__}")

    def encode_all(value: Any) -> Any:
        check(value, tuple)
        return [convert[0](one) for convert, one in zip(converts, value)]

    def decode_all(data: Any) -> Any:
        check(data, list)
        return tuple(convert[1](one) for convert, one in zip(converts, data))

    return encode_all, decode_all


def _dict(item: Any) -> tuple[Convert, Convert]:
    item_encode, item_decode = _compiled(item)

    def convert_with(convert: Convert) -> Convert:
        def convert_all(value: Any) -> Any:
            if type(value) is not dict:
                raise _fail(value, dict)
            if not all(type(key) is str for key in value):
                raise CodecError("a key that is not a str")
            return {key: convert(one) for key, one in value.items()}
        return convert_all

    return convert_with(item_encode), convert_with(item_decode)


def _plain(value: Any, depth: int = 0) -> Any:
    """Plain JSON data, as a copy; CodecError for anything else (tuples included)."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return _float(value)
    if depth >= MAX_DEPTH:
        raise CodecError("nested too deep")
    if kind is list:
        return [_plain(one, depth + 1) for one in value]
    if kind is dict and all(type(key) is str for key in value):
        return {key: _plain(one, depth + 1) for key, one in value.items()}
    raise CodecError(f"{kind.__name__} is not plain JSON data")
