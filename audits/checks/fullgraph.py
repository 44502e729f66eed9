"""Check 1: does the module compile as a single graph (fullgraph=True)? And check 6:
what does compiling cost? The first call, kept apart from steady state.

The first call is also the compile-time measurement, so it is made here once and its
timings go to the compile-time result; steady-state calls are the replay's calls that
compiled nothing. Times are wall-clock on the audit's device and only comparable within
one run's environment.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audits.checks.common import scalar_loss
from audits.graph_breaks import break_from_exception, first_line
from audits.targets import Inputs
from reporting.schema.audit import CheckStatus, CompileTimeResult, FullgraphResult


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


def compile_time_result(first: FirstCall, steady_s: tuple[float, ...]) -> CompileTimeResult:
    return CompileTimeResult(
        status=CheckStatus.PASSED,
        first_call_s=first.forward_s,
        first_backward_s=first.backward_s,
        steady_state_s=statistics.median(steady_s) if steady_s else None,
        steady_calls=len(steady_s),
    )
