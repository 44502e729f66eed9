"""Ladders: several compiled settings of one workload, measured against eager in one group.

Two ladders exist. The *ablation* adds the gpt2-small training levers one at a time, each row
keeping the ones before it, so a row's gain over the row above is that lever's. The *CPU
inference options* ladder tries inductor's options for CPU one at a time against plain
default mode. A rung that cannot run on the device is kept with the reason, so the
report shows it as not applicable instead of dropping it; a cumulative ladder does not
carry an inapplicable lever into the rungs after it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reporting.schema.benchmark_settings import Ladder, OptimizerStep, Rung, WorkloadOptions
from reporting.schema.vocabulary import CompileMode

# The levers in the order they are added; each is (label, mode, the options it changes).
ABLATION_STEPS: tuple[tuple[str, CompileMode | None, dict[str, Any]], ...] = (
    ("+pad-vocab", None, {"pad_vocab": True}),
    ("+fused-optimizer", None, {"optimizer": OptimizerStep.FUSED}),
    ("+compiled-optimizer (for fused)", None, {"optimizer": OptimizerStep.COMPILED}),
    ("+tf32", None, {"tf32": True}),
    ("+pure-bf16", None, {"pure_bf16": True}),
    ("+whole step under CUDA graphs", CompileMode.REDUCE_OVERHEAD, {}),
)


def ablation_ladder(base: WorkloadOptions, mode: CompileMode, device: str) -> tuple[Rung, ...]:
    """The baseline in ``mode``, then each lever added to what the rungs above kept."""
    rungs = [Rung(label="baseline", mode=mode, options=base, not_applicable=None)]
    current, current_mode = base, mode
    for label, step_mode, change in ABLATION_STEPS:
        options, rung_mode = dataclasses.replace(current, **change), step_mode or current_mode
        reason = options.not_applicable(device)
        if rung_mode.needs_cuda and device != "cuda":
            reason = reason or f"{rung_mode.value} is CUDA graphs: not applicable on {device}"
        if label.startswith("+whole step") and options.optimizer is not OptimizerStep.COMPILED:
            reason = reason or "the whole step is graphed only with the optimizer compiled"
        rungs.append(Rung(label=label, mode=rung_mode, options=options, not_applicable=reason))
        if reason is None:
            current, current_mode = options, rung_mode
    return tuple(rungs)


def cpu_options_ladder(base: WorkloadOptions, device: str) -> tuple[Rung, ...]:
    """Default mode, then each inductor option for CPU inference on its own."""
    frozen = dataclasses.replace(base, freezing=True, weight_prepack=True)
    unpacked = dataclasses.replace(frozen, weight_prepack=False)
    no_graphs = CompileMode.MAX_AUTOTUNE_NO_CUDAGRAPHS
    rungs = (
        ("default", CompileMode.DEFAULT, base),
        ("freezing (prepacked weights)", CompileMode.DEFAULT, frozen),
        ("freezing, no weight prepack", CompileMode.DEFAULT, unpacked),
        ("max-autotune", CompileMode.MAX_AUTOTUNE, base),
        ("max-autotune-no-cudagraphs", no_graphs, base),
        ("max-autotune-no-cudagraphs + freezing", no_graphs, frozen),
    )
    return tuple(
        Rung(label=label, mode=mode, options=options, not_applicable=options.not_applicable(device))
        for label, mode, options in rungs
    )


def build_ladder(
    ladder: Ladder, base: WorkloadOptions, mode: CompileMode, device: str
) -> tuple[Rung, ...]:
    if ladder is Ladder.ABLATION:
        return ablation_ladder(base, mode, device)
    return cpu_options_ladder(base, device)
