"""Check 1: does the module compile as a single graph (fullgraph=True)?

The first call is also the compile-time measurement, so it is made here once
and its timings are handed to the compile-time check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audits.checks.common import scalar_loss
from audits.graph_breaks import break_from_exception, first_line
from audits.targets import Inputs
from reporting.schema.audit import CheckStatus, FullgraphResult


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstCall:
    """The compiling call: its wall times, or the exception it raised."""

    forward_s: float
    backward_s: float | None = None
    error: BaseException | None = None


def first_call(compiled: Callable[..., Any], inputs: Inputs, *, backward: bool) -> FirstCall:
    """Call `compiled` once; with `backward`, also time the backward pass it compiles."""
    start = time.perf_counter()
    try:
        out = compiled(*inputs)
    except Exception as exc:  # recorded in the result: this is what the check measures
        return FirstCall(forward_s=time.perf_counter() - start, error=exc)
    forward_s = time.perf_counter() - start
    loss = scalar_loss(out) if backward else None
    if loss is None:
        return FirstCall(forward_s=forward_s)
    start = time.perf_counter()
    try:
        loss.backward()
    except Exception as exc:
        return FirstCall(forward_s=forward_s, error=exc)
    return FirstCall(forward_s=forward_s, backward_s=time.perf_counter() - start)


def fullgraph_result(call: FirstCall) -> FullgraphResult:
    if call.error is None:
        return FullgraphResult(status=CheckStatus.PASSED)
    return FullgraphResult(
        status=CheckStatus.FAILED,
        error_type=type(call.error).__name__,
        error_message=first_line(call.error),
        graph_break=break_from_exception(call.error),
    )
