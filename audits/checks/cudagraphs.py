"""CUDA graphs: what does `mode="reduce-overhead"` actually do with the target?

reduce-overhead asks inductor to run each compiled graph as a CUDA graph (the
cudagraph trees), which removes kernel-launch overhead, the cost that dominates
small modules on a GPU. Inductor silently gives up on a graph it cannot capture
(an input mutated in forward, a CPU tensor in the graph, dynamic shapes, an
incompatible op) and runs it without CUDA graphs; it counts each such skip
(`counters["inductor"]["cudagraph_skips"]`) and says why only in its
"cudagraphs" log. A recorded graph that no longer fits (an input moved, a
parameter was replaced) is recorded again, also said only in that log.

The check compiles the target with inductor's `triton.cudagraphs` on (the one
setting mode="reduce-overhead" makes, set here through config.patch so that a
target's own compile function still applies), calls it three times (warm-up,
record, replay), then replays the target's scenario with
`torch.compiler.cudagraph_mark_step_begin()` before each call. Per step it
reports recordings, re-recordings and skips with torch's reasons. A skip is a
finding, so is a run that records no graph at all, and so is any recording in a
step that must not compile (an alpha step); a stage change may record anew.

CUDA only: on another device the result says "not applicable".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from audits.checks.common import CheckSettings, backpropagate, prepare_module, target_inputs
from audits.checks.torch_logs import captured_logs, containing
from audits.graph_breaks import first_line
from audits.targets import Inputs, ScenarioStep, Target
from reporting.schema.basics import CheckStatus
from reporting.schema.cudagraphs import CudagraphsResult, CudagraphStep
from reporting.schema.vocabulary import Task

# The artifact loggers torch writes CUDA graph decisions to: "cudagraphs" in 2.6+,
# skip reasons under "perf_hints" in earlier releases.
LOGGERS = (
    "torch._inductor.cudagraph_trees.__cudagraphs",
    "torch._inductor.cudagraph_utils.__cudagraphs",
    "torch._inductor.cudagraph_utils.__perf_hints",
    "torch._inductor.compile_fx.__perf_hints",
)
_RECORDING = re.compile(r"(?<![-\w])Recording function")
_RERECORDING = re.compile(r"Re-recording function")
_SKIP = re.compile(r"skipping cudagraph")
_REASON = re.compile(r"reason=(?P<reason>.*)$", re.DOTALL)
FIRST_CALLS = 3  # warm-up, record, replay


def not_applicable(device: str) -> CudagraphsResult:
    return CudagraphsResult(
        status=CheckStatus.SKIPPED,
        skipped_reason=f"not applicable on {device}: CUDA graphs need a CUDA device",
    )


def _skips() -> int:
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["cudagraph_skips"])


def _call(compiled: Callable[..., Any], inputs: Inputs, backward: bool) -> None:
    torch.compiler.cudagraph_mark_step_begin()
    out = compiled(*inputs)
    if backward:
        backpropagate(out)


def _run_step(
    step: ScenarioStep,
    module: nn.Module,
    compiled: Callable[..., Any],
    inputs: Inputs,
    backward: bool,
    records: list[logging.LogRecord],
) -> CudagraphStep:
    step.apply(module)
    mark, skips_before = len(records), _skips()
    error = None
    for _ in range(step.calls):
        try:
            _call(compiled, inputs, backward)
        except Exception as exc:  # recorded per step; the scenario goes on
            error = f"{type(exc).__name__}: {first_line(exc)}"
    seen = records[mark:]
    rerecords = containing(seen, _RERECORDING)
    reasons = [m.group("reason").strip() for r in rerecords if (m := _REASON.search(r))]
    skip_texts = containing(seen, _SKIP)
    return CudagraphStep(
        step=step.name,
        calls=step.calls,
        recordings=len(containing(seen, _RECORDING)),
        rerecordings=len(rerecords),
        skips=max(_skips() - skips_before, len(skip_texts)),
        skip_reasons=tuple(dict.fromkeys(skip_texts)),
        rerecord_reasons=tuple(dict.fromkeys(reasons)),
        max_recordings=0 if step.max_compiles == 0 else None,
        error=error,
    )


def step_failed(step: CudagraphStep) -> bool:
    over = step.max_recordings is not None and step.recordings > step.max_recordings
    return bool(step.skips or step.error or over)


def check_cudagraphs(target: Target, settings: CheckSettings) -> CudagraphsResult:
    """Compile under reduce-overhead on CUDA and follow the CUDA graphs through the scenario."""
    device = torch.device(settings.device)
    if device.type != "cuda":
        return not_applicable(device.type)
    if settings.backend != "inductor":
        return CudagraphsResult(
            status=CheckStatus.SKIPPED,
            skipped_reason="reduce-overhead's CUDA graphs are inductor's; "
            f"backend {settings.backend!r}",
        )
    from torch._inductor import config as inductor_config
    from torch._inductor.cudagraph_trees import reset_cudagraph_trees

    mode = target.modes[0]
    module = prepare_module(target, settings)
    inputs = target_inputs(target, settings)
    backward = mode is Task.TRAIN
    steps = []
    try:
        with inductor_config.patch({"triton.cudagraphs": True}), captured_logs(*LOGGERS) as records:
            compiled = target.compile(module, backend=settings.backend, fullgraph=False)
            for step in (ScenarioStep(name="first calls", calls=FIRST_CALLS), *target.steps()):
                steps.append(_run_step(step, module, compiled, inputs, backward, records))
    finally:
        reset_cudagraph_trees()  # the graphs hold the device's memory pool
    recordings = sum(s.recordings for s in steps)
    skips = sum(s.skips for s in steps)
    failed = recordings == 0 or any(step_failed(s) for s in steps)
    return CudagraphsResult(
        status=CheckStatus.FAILED if failed else CheckStatus.PASSED,
        mode=mode,
        recorded=recordings > 0,
        total_recordings=recordings,
        total_skips=skips,
        steps=tuple(steps),
    )
