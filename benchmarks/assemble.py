"""Turning a group's raw measurements into typed results and comparisons.

The statistics live in benchmarks.stats; this file only decides which series are paired
with which: eager with each compiled mode of the same variant (the speedup), and variants
with each other under the same mode (what a slot or a seed costs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from benchmarks.measure import CandidateMeasurement
from benchmarks.mfu import dense_peak_flops, matmul_precision, model_flops_utilization
from benchmarks.stats import paired_bootstrap, per_round_ratios, speedup_interval, summarize
from reporting.schema.benchmark import (
    BenchmarkError,
    BenchmarkResult,
    Comparison,
    ErrorPhase,
    ModeTiming,
    RoundsRecord,
)
from reporting.schema.benchmark_settings import MeasureConfig, WorkloadOptions
from reporting.schema.vocabulary import CompileMode, Task


def candidate_name(variant: str, mode: CompileMode) -> str:
    return f"{variant}:{mode.value}"


def mode_timing(measurement: CandidateMeasurement) -> ModeTiming | None:
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
    *,
    name: str,
    group: str,
    task: Task,
    variant: str | None,
    unit: str,
    items_per_call: int,
    eager: CandidateMeasurement,
    compiled: CandidateMeasurement,
    config: MeasureConfig,
    device_name: str,
    rounds: RoundsRecord | None = None,
    setting: str | None = None,
    options: WorkloadOptions | None = None,
) -> BenchmarkResult:
    """Eager against one compiled candidate; the first error of either becomes the result's."""
    eager_timing, compiled_timing = mode_timing(eager), mode_timing(compiled)
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
        name=name,
        group=group,
        task=task,
        variant=variant,
        device=config.device,
        precision=config.precision,
        backend=config.backend,
        mode=compiled.mode,
        unit=unit,
        items_per_call=items_per_call,
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
        rounds=rounds,
        setting=setting,
        options=options or config.options,
        attention_eager=eager.attention_kernel,
        attention_compiled=compiled.attention_kernel,
    )


def _timed(measurements: Mapping[str, CandidateMeasurement], name: str) -> Sequence[float] | None:
    measurement = measurements.get(name)
    if measurement is None or measurement.error is not None or not measurement.per_call_s:
        return None
    return measurement.per_call_s


def time_ratio(
    measurements: Mapping[str, CandidateMeasurement],
    *,
    group: str,
    mode: CompileMode,
    candidate: str,
    baseline: str,
    config: MeasureConfig,
) -> Comparison | None:
    """median(candidate) / median(baseline) under one mode: 1.02 means 2 % slower."""
    cand = _timed(measurements, candidate_name(candidate, mode))
    base = _timed(measurements, candidate_name(baseline, mode))
    if cand is None or base is None:
        return None
    # speedup_interval(a, b) is median(a) / median(b): the candidate's time over the baseline's.
    estimate = speedup_interval(
        cand, base, confidence=config.confidence, resamples=config.resamples, seed=config.seed
    )
    return Comparison(
        name=f"{candidate}-vs-{baseline}",
        group=group,
        mode=mode,
        description=f"time of {candidate} / time of {baseline}, median over rounds",
        estimate=estimate,
    )


def seed_overhead(
    measurements: Mapping[str, CandidateMeasurement],
    *,
    group: str,
    mode: CompileMode,
    config: MeasureConfig,
) -> Comparison | None:
    """(time with a TRAINING seed - time dormant) / time of the seed alone, under one mode.

    At most 1 means the seed costs the host no more than its own forward and backward.
    """
    series = {
        "training": _timed(measurements, candidate_name("seed-training", mode)),
        "dormant": _timed(measurements, candidate_name("dormant", mode)),
        "alone": _timed(measurements, candidate_name("seed-alone", mode)),
    }
    if any(values is None for values in series.values()):
        return None

    def statistic(s: Mapping[str, np.ndarray]) -> float:
        return float((np.median(s["training"]) - np.median(s["dormant"])) / np.median(s["alone"]))

    estimate = paired_bootstrap(
        {key: values for key, values in series.items() if values is not None},
        statistic,
        confidence=config.confidence,
        resamples=config.resamples,
        seed=config.seed,
    )
    return Comparison(
        name="seed-training-overhead",
        group=group,
        mode=mode,
        description="(seed-training - dormant) / seed-alone forward+backward, medians over rounds",
        estimate=estimate,
    )
