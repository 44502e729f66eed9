"""Check 6: what does compiling cost? The first call, kept apart from steady state.

The first (compiling) call is timed by the fullgraph check; steady-state
calls are the replay's calls that compiled nothing. Times are wall-clock on
the audit's device and only comparable within one run's environment.
"""

from __future__ import annotations

import statistics

from audits.checks.fullgraph import FirstCall
from reporting.schema.audit import CheckStatus, CompileTimeResult


def compile_time_result(first: FirstCall, steady_s: tuple[float, ...]) -> CompileTimeResult:
    return CompileTimeResult(
        status=CheckStatus.PASSED,
        first_call_s=first.forward_s,
        first_backward_s=first.backward_s,
        steady_state_s=statistics.median(steady_s) if steady_s else None,
        steady_calls=len(steady_s),
    )
