"""Formatting of single values for the markdown tables: numbers, durations, safe text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

DASH = "-"


def text(value: object, limit: int = 140) -> str:
    """One table cell: one line, pipes escaped (GitHub tables split on them), bounded length."""
    if value is None:
        return DASH
    flat = " ".join(str(value).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def code(value: object, limit: int = 100) -> str:
    if value is None or value == "":
        return DASH
    inner = text(value, limit).replace("`", "'")  # a backtick would end the code span
    return f"`{inner}`"


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return DASH
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.{digits}g}"


def seconds(value: float | None) -> str:
    if value is None:
        return DASH
    if value >= 1.0:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A GitHub markdown table; numbers are pre-formatted, so tabulate must not re-parse them."""
    return tabulate(rows, headers=list(headers), tablefmt="github", disable_numparse=True)
