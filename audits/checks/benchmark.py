"""Benchmarks of a target: does compiling pay? (measured by the benchmarks package)

Run in the target's own subprocess after the checks, for targets that ask for it
(the built-in hosts). The measurement is the benchmarks package's: eager and
compiled interleaved in rounds, speedup with a bootstrap CI. The audit already
times the first compile, so the benchmark's cold/warm compile phase is skipped.

The size measured is the target's own unless it names one per device
(`Target.benchmark_size`): the audit's tiny hosts are launch-bound on a GPU, so a
speedup there would measure launches. The size's label goes into the result's name,
and a size that is launch-bound on the device says so there.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from audits.checks.common import CheckSettings, target_inputs
from audits.checks.parity import precision_of
from audits.targets import BenchmarkSize, Target
from benchmarks import BenchmarkResult, MeasureConfig, Task, benchmark_module
from reporting.schema.benchmark_settings import CompileTimeScope

# 20 rounds: fewer give bootstrap CIs too wide to call a speedup; short blocks keep a host
# target to seconds.
AUDIT_ROUNDS = 20
AUDIT_BLOCK_S = 0.02
AUDIT_SIZE = "audit size"  # the label of a target's own module and inputs


def benchmark_size(target: Target, device: str) -> BenchmarkSize:
    """The target's size for ``device``, or its own module and inputs (launch-bound unknown)."""
    if target.benchmark_size is not None:
        return target.benchmark_size(device)
    return BenchmarkSize(
        label=AUDIT_SIZE, build=target.build, make_inputs=target.make_inputs, launch_bound=None
    )


def benchmark_name(target: Target, size: BenchmarkSize, device: str) -> str:
    """The target's name, plus the size when it is not the audit's or is launch-bound.

    The audit size keeps the plain name so that baselines and comparisons still match.
    """
    if size.label == AUDIT_SIZE and not size.launch_bound:
        return target.name
    note = f"; launch-bound on {device}" if size.launch_bound else ""
    return f"{target.name} ({size.label}{note})"


def benchmark_target(target: Target, settings: CheckSettings) -> tuple[BenchmarkResult, ...]:
    """Inference and training step, eager vs compiled, for TargetResult.benchmarks."""
    if not isinstance(settings.backend, str):
        raise ValueError(
            f"benchmarks record their backend by name; got the callable {settings.backend!r}"
        )
    torch._dynamo.reset()
    config = MeasureConfig(
        device=settings.device,
        precision=precision_of(settings.dtype),
        backend=settings.backend,
        rounds=AUDIT_ROUNDS,
        min_block_s=AUDIT_BLOCK_S,
        compile_time=CompileTimeScope.NONE,
        flops=False,
        threads=torch.get_num_threads(),  # the runner's share of the cores for this job
    )
    size = benchmark_size(target, str(settings.device))
    # The target's seeds, at this size.
    sized = replace(target, build=size.build, make_inputs=size.make_inputs)
    inputs = target_inputs(sized, settings)
    name = benchmark_name(target, size, str(settings.device))
    return tuple(
        benchmark_module(sized.fresh_module, inputs, config, task=task, name=name)
        for task in (Task.INFER, Task.TRAIN)
    )
