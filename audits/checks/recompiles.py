"""Check 3: how often does one compiled module compile while its state changes?

Compilations are counted with dynamo's compile-start callback around each
step. The budget applies per frame: a module broken into graphs compiles each
piece once, and only compiling the same frame again is a recompile. The guard
behind each recompile is read from the guard failures dynamo records when
(and only when) it recompiles. When `recompile_limit` is reached dynamo stops
compiling the frame: with fullgraph=True it raises, otherwise it runs the
frame eagerly without a word, which is the silent fallback reported here
(torch 2.5 falls back silently even with fullgraph=True).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from audits.checks.common import (
    compile_log,
    guard_failure_marks,
    guards_since,
    max_frame_compiles,
    recompile_limit_hits,
)
from audits.graph_breaks import first_line
from audits.targets import Inputs, Target
from audits.torch_compat import recompile_limit, recompile_limit_errors
from reporting.schema.audit import CheckStatus, RecompilesResult, StepCompiles


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    result: RecompilesResult
    steady_s: tuple[float, ...]  # wall times of calls that compiled nothing
    errors: tuple[tuple[str, BaseException], ...] = ()  # (step, exception) raised by a call


def replay(
    target: Target,
    module: nn.Module,
    compiled: Callable[..., Any],
    make_inputs: Callable[[], Inputs],
    *,
    fullgraph: bool,
    first_call_ids: list[str],
    compare_with_eager: Callable[[], str | None] | None = None,
) -> Replay:
    """Replay the target's scenario (or repeated calls) on `compiled`, after its first call.

    `first_call_ids` are the compilations of that first call, made by the fullgraph check.
    After each step with an action, `compare_with_eager()` (when given) returns a
    description of the first compiled-vs-eager difference, or None: a guard that misses
    a state change shows up there, not as a compile count.
    """
    log = compile_log()
    steps = [StepCompiles(step="first call", calls=1, compiles=len(first_call_ids))]
    all_ids = list(first_call_ids)
    steady: list[float] = []
    errors: list[tuple[str, BaseException]] = []
    hits_before = recompile_limit_hits()
    inputs = make_inputs()
    for step in target.steps():
        step.apply(module)
        marks = guard_failure_marks()
        step_mark = len(log.ids)
        error: BaseException | None = None
        for _ in range(step.calls):
            call_mark = len(log.ids)
            start = time.perf_counter()
            try:
                compiled(*inputs)
            except Exception as exc:  # recorded per step; the replay goes on
                error = exc
                continue
            if len(log.ids) == call_mark:
                steady.append(time.perf_counter() - start)
        if error is not None:
            errors.append((step.name, error))
        step_ids = log.since(step_mark)
        all_ids.extend(step_ids)
        stale = None
        if compare_with_eager is not None and step.action is not None and error is None:
            stale = compare_with_eager()
        steps.append(
            StepCompiles(
                step=step.name,
                calls=step.calls,
                compiles=len(step_ids),
                max_compiles=step.max_compiles,
                guard_failures=guards_since(marks),
                error=f"{type(error).__name__}: {first_line(error)}" if error else None,
                stale_graph=stale,
            )
        )
    # torch 2.9 raises FailOnRecompileLimitHit under fullgraph=True without counting
    # the hit; torch 2.5 falls back to eager even then: the fallback is silent
    # unless the limit error was raised.
    limit_errors = recompile_limit_errors()
    limit_raised = any(isinstance(exc, limit_errors) for _, exc in errors)
    limit_hit = recompile_limit_hits() > hits_before or limit_raised
    max_frame = max_frame_compiles(all_ids)
    over_step_budget = any(
        s.max_compiles is not None and s.compiles > s.max_compiles for s in steps
    )
    ok = (
        max_frame <= target.recompile_budget
        and not over_step_budget
        and not limit_hit
        and not errors
        and not any(s.stale_graph for s in steps)
    )
    result = RecompilesResult(
        status=CheckStatus.PASSED if ok else CheckStatus.FAILED,
        fullgraph=fullgraph,
        total_compiles=len(all_ids),
        max_frame_compiles=max_frame,
        budget=target.recompile_budget,
        recompile_limit=recompile_limit(),
        limit_hit=limit_hit,
        silent_fallback=limit_hit and not limit_raised,
        steps=tuple(steps),
    )
    return Replay(result=result, steady_s=tuple(steady), errors=tuple(errors))
