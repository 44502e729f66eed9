"""Turning a group's raw measurements into typed results and comparisons.

The statistics live in benchmarks.stats; this file only decides which series are paired
with which: eager with each compiled side of the same workload (the speedup), and variants
with each other under the same mode (what a slot or a seed costs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.measure import CandidateMeasurement, GroupMeasurement
from benchmarks.probes import dense_peak_flops, matmul_precision, model_flops_utilization
from benchmarks.stats import paired_bootstrap, per_round_ratios, speedup_interval, summarize
from benchmarks.steps import Workload
from reporting.schema.benchmark import (
    BenchmarkError,
    BenchmarkResult,
    Comparison,
    ErrorPhase,
    ModeTiming,
)
from reporting.schema.benchmark_settings import MeasureConfig, WorkloadOptions
from reporting.schema.vocabulary import CompileMode, Task

Measurements = Mapping[str, CandidateMeasurement]
Statistic = Callable[..., float]  # of the medians of the compared variants' per-round times


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One setting every workload of a group is measured in: eager, a mode, or a ladder rung."""

    key: str  # the candidate name's suffix: the mode's value, or "rung:<label>"
    mode: CompileMode
    options: WorkloadOptions
    setting: str | None = None  # the rung's label; None for a plain mode


def candidate_name(workload: Workload, side_key: str) -> str:
    """'<variant>:<side key>', or the side's key alone for a workload without variants."""
    return side_key if workload.variant is None else f"{workload.variant}:{side_key}"


def compiled_sides(config: MeasureConfig) -> list[Side]:
    """The config's modes, or, when a ladder runs, its rungs that apply to the device."""
    if config.ladder is None:
        return [Side(key=mode.value, mode=mode, options=config.options) for mode in config.modes]
    return [
        Side(key=f"rung:{rung.label}", mode=rung.mode, options=rung.options, setting=rung.label)
        for rung in config.rungs
        if rung.not_applicable is None
    ]


def _timing(measurement: CandidateMeasurement) -> ModeTiming | None:
    if measurement.error is not None or not measurement.per_call_s:
        return None
    assert measurement.warmup is not None and measurement.first_call_s is not None
    return ModeTiming(
        mode=measurement.mode,
        per_call_s=tuple(measurement.per_call_s),
        summary=summarize(measurement.per_call_s),
        iters_per_block=measurement.iters_per_block,
        warmup_blocks=measurement.warmup.blocks,
        steady=measurement.warmup.steady,
        first_call_s=measurement.first_call_s,
    )


def _mfu(
    flops: int | None, timing: ModeTiming | None, device_name: str, config: MeasureConfig
) -> float | None:
    if flops is None or timing is None or config.device != "cuda":
        return None
    peak = dense_peak_flops(device_name, matmul_precision(config.precision.dtype))
    if peak is None:
        return None
    return model_flops_utilization(flops, timing.summary.median, peak)


def build_result(
    workload: Workload,
    side: Side,
    group: GroupMeasurement,
    *,
    config: MeasureConfig,
    device_name: str,
) -> BenchmarkResult:
    """Eager against one compiled side; the first error of either becomes the result's."""
    eager = group.candidates[candidate_name(workload, CompileMode.EAGER.value)]
    compiled = group.candidates[candidate_name(workload, side.key)]
    eager_timing, compiled_timing = _timing(eager), _timing(compiled)
    error = eager.error or compiled.error
    if error is None and (eager_timing is None or compiled_timing is None):
        error = BenchmarkError(phase=ErrorPhase.MEASURE, message="no timed rounds", traceback="")
    speedup = None
    ratios: tuple[float, ...] = ()
    if error is None and eager_timing is not None and compiled_timing is not None:
        ratios = per_round_ratios(eager_timing.per_call_s, compiled_timing.per_call_s)
        speedup = speedup_interval(
            eager_timing.per_call_s,
            compiled_timing.per_call_s,
            confidence=config.confidence,
            resamples=config.resamples,
            seed=config.seed,
        )
    flops = eager.flops_per_call
    return BenchmarkResult(
        name=workload.name,
        group=workload.group,
        task=workload.task,
        variant=workload.variant,
        device=config.device,
        precision=config.precision,
        backend=config.backend,
        mode=compiled.mode,
        unit=workload.unit,
        items_per_call=workload.items_per_call,
        eager=eager_timing,
        compiled=compiled_timing,
        speedup=speedup,
        per_round_speedup=ratios,
        compile_time=compiled.compile_time,
        memory_eager=eager.memory,
        memory_compiled=compiled.memory,
        flops_per_call=flops,
        mfu_eager=_mfu(flops, eager_timing, device_name, config),
        mfu_compiled=_mfu(flops, compiled_timing, device_name, config),
        error=error,
        rounds=group.rounds,
        setting=side.setting,
        options=side.options,
        attention_eager=eager.attention_kernel,
        attention_compiled=compiled.attention_kernel,
    )


def group_comparisons(
    measurements: Measurements, *, group: str, task: Task, config: MeasureConfig
) -> list[Comparison]:
    """What dormant slots cost the bare host and each seed costs the dormant one, as time
    ratios (1.02 means 2 % slower), and for training what a TRAINING seed adds over its own
    forward and backward (at most 1: no more than the seed alone); each with its paired
    bootstrap CI, under eager and each plain mode (a ladder's rungs are not modes)."""
    found: list[Comparison] = []

    def compare(
        mode: CompileMode,
        name: str,
        description: str,
        variants: Sequence[str],
        statistic: Statistic,
    ) -> None:
        series = {}
        for variant in variants:  # every variant timed under this mode, or no comparison
            measured = measurements.get(f"{variant}:{mode.value}")
            if measured is None or measured.error is not None or not measured.per_call_s:
                return
            series[variant] = measured.per_call_s
        estimate = paired_bootstrap(
            series,
            lambda s: statistic(*(np.median(s[variant]) for variant in variants)),
            confidence=config.confidence,
            resamples=config.resamples,
            seed=config.seed,
        )
        found.append(
            Comparison(
                name=name, group=group, mode=mode, description=description, estimate=estimate
            )
        )

    for mode in (CompileMode.EAGER, *(config.modes if config.ladder is None else ())):
        for candidate, baseline in [("dormant", "bare")] + [
            (seed, "dormant") for seed in ("seed-training", "seed-blending", "seed-fossilized")
        ]:
            compare(
                mode,
                f"{candidate}-vs-{baseline}",
                f"time of {candidate} / time of {baseline}, median over rounds",
                (candidate, baseline),
                lambda candidate, baseline: float(candidate / baseline),
            )
        if task is Task.TRAIN:
            compare(
                mode,
                "seed-training-overhead",
                "(seed-training - dormant) / seed-alone forward+backward, medians over rounds",
                ("seed-training", "dormant", "seed-alone"),
                lambda training, dormant, alone: float((training - dormant) / alone),
            )
    return found
