"""Benchmarks of a target: does compiling pay? (measured by the benchmarks package)

Run in the target's own subprocess after the checks, for targets that ask for it
(the built-in hosts). The measurement is the benchmarks package's: eager and
compiled interleaved in rounds, speedup with a bootstrap CI. The audit already
times the first compile, so the benchmark's cold/warm compile phase is skipped.
"""

from __future__ import annotations

from typing import Any

import torch

from audits.checks.common import CheckSettings, target_inputs
from audits.targets import Target
from benchmarks import MeasureConfig, Task, benchmark_module
from benchmarks.config import CompileTimeScope
from benchmarks.modes import Precision
from benchmarks.results import to_jsonable

# 20 rounds: fewer give bootstrap CIs too wide to call a speedup; short blocks keep a host
# target to seconds.
AUDIT_ROUNDS = 20
AUDIT_BLOCK_S = 0.02


def benchmark_target(target: Target, settings: CheckSettings) -> tuple[dict[str, Any], ...]:
    """Inference and training step, eager vs compiled, serialized for TargetResult."""
    torch._dynamo.reset()
    config = MeasureConfig(
        device=settings.device,
        precision=Precision.BF16 if settings.dtype == torch.bfloat16 else Precision.FP32,
        backend=settings.backend,
        rounds=AUDIT_ROUNDS,
        min_block_s=AUDIT_BLOCK_S,
        compile_time=CompileTimeScope.NONE,
        flops=False,
        threads=torch.get_num_threads(),  # the runner's share of the cores for this job
    )
    inputs = target_inputs(target, settings)
    return tuple(
        to_jsonable(
            benchmark_module(target.fresh_module, inputs, config, task=task, name=target.name)
        )
        for task in (Task.INFERENCE, Task.TRAIN_STEP)
    )
