"""Frozen dataclasses to JSON-ready values and back: the one codec of every report.

Records are frozen dataclasses whose fields are primitives, enums, tuples, optional
values and other records. The codec is driven by the type hints, so no record carries
hand-written to/from code, and what is written reads back into the same types.

Rules, the same for every record:
- non-finite floats (an exploding parity error, an empty median) are written as the
  strings "nan", "inf" and "-inf", because strict JSON has no literal for them;
- a key the record does not have is an error (a typo or another schema), named;
- a missing key takes the field's default, or is an error when it has none.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from typing import Any, TypeVar, Union

T = TypeVar("T")

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def to_jsonable(value: Any) -> Any:
    """`value` as nested dicts, lists and primitives that json.dumps(allow_nan=False) takes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot serialize {type(value).__name__}: {value!r}")


def from_jsonable(cls: type[T], data: Any) -> T:
    """Rebuild a `cls` (a dataclass, or any hint the codec knows) from `to_jsonable` output.

    TypeError, ValueError or KeyError, naming the value, for data that does not fit.
    """
    return _decode(cls, data)  # type: ignore[no-any-return]


def _decode(hint: Any, data: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return data
    if origin in (Union, types.UnionType):
        members = typing.get_args(hint)
        if data is None and type(None) in members:
            return None
        present = [m for m in members if m is not type(None)]
        if len(present) == 1:  # an optional value: its own error says what is wrong
            return _decode(present[0], data)
        errors = []
        for member in present:
            try:
                return _decode(member, data)
            except (TypeError, ValueError, KeyError) as exc:
                errors.append(f"{member}: {exc}")
        raise ValueError(f"{data!r} matches none of {members}: {errors}")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(data, list):
            raise TypeError(f"expected a list for {hint}, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in data)
        return tuple(_decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {hint}, got {type(data).__name__}")
        return {_decode(key_hint, k): _decode(value_hint, v) for k, v in data.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_record(hint, data)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if hint is float:
        if isinstance(data, str) and data in _NON_FINITE:
            return _NON_FINITE[data]
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"expected a number, got {data!r}")
        return float(data)
    if hint in (int, str, bool):
        if not isinstance(data, hint) or (hint is int and isinstance(data, bool)):
            raise TypeError(f"expected {hint.__name__}, got {data!r}")
        return data
    raise TypeError(f"no JSON decoding for type hint {hint!r}")


def _decode_record(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    if unknown := set(data) - set(fields):
        raise ValueError(f"unknown fields for {cls.__name__}: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _decode(hints[name], data[name]) for name in fields if name in data})
