"""Hypothesis strategies for the result dataclasses, driven by their type hints.

`st.builds` alone leaves every field that has a default at that default, so a built
TargetResult would carry no check results at all. `results_of(cls)` fills every field:
floats include NaN and both infinities, optional fields are None or a value, tuples hold
up to three items. Types whose `__post_init__` constrains several fields together get a
strategy of their own through `overrides`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
SHORT_TEXT = st.text(max_size=12)


def results_of(cls: type, overrides: Mapping[Any, st.SearchStrategy] | None = None):
    """Instances of the dataclass `cls` with every field generated.

    `overrides` maps a type, or a `(dataclass, field name)` pair, to the strategy to use.
    """
    return _for_hint(cls, dict(overrides or {}))


def _for_hint(hint: Any, overrides: dict[Any, st.SearchStrategy]) -> st.SearchStrategy:
    if hint in overrides:
        return overrides[hint]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_for_hint(arg, overrides) for arg in typing.get_args(hint)))
    if hint is type(None):
        return st.none()
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_for_hint(args[0], overrides), max_size=3).map(tuple)
        return st.tuples(*(_for_hint(arg, overrides) for arg in args))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = {
            f.name: _field(hint, f.name, hints[f.name], overrides)
            for f in dataclasses.fields(hint)
            if f.init
        }
        return st.builds(hint, **fields)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if hint is float:
        return ANY_FLOAT
    if hint is str:
        return SHORT_TEXT
    if hint in (int, bool):
        return st.from_type(hint)
    raise TypeError(f"no strategy for {hint!r}; pass one in overrides")


def _field(
    cls: type, name: str, hint: Any, overrides: dict[Any, st.SearchStrategy]
) -> st.SearchStrategy:
    if (cls, name) in overrides:
        return overrides[(cls, name)]
    return st.deferred(lambda: _for_hint(hint, overrides))  # deferred: results nest results


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)
