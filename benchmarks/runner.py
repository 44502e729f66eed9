"""Measuring workloads: candidates for every side, one interleaved group, typed results.

``measure_workloads`` is the one path the built-in workloads (``run_benchmarks``, what
``python -m benchmarks.run`` calls after parsing flags) and ``benchmark_module`` share.
Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence

from benchmarks.assemble import (
    Side,
    build_result,
    candidate_name,
    compiled_sides,
    group_comparisons,
)
from benchmarks.goals import evaluate_goals
from benchmarks.measure import Candidate, GroupMeasurement, measure_candidates
from benchmarks.specs import Variant, WorkloadSpec, select_specs
from benchmarks.steps import Workload
from foundation.environment import collect_environment, load_average
from foundation.scoped import scoped_num_threads
from reporting.schema.benchmark import BenchmarkResult, BenchmarkRun, Comparison
from reporting.schema.benchmark_settings import CompileTimeScope, MeasureConfig, RunConfig
from reporting.schema.report import RunReport
from reporting.schema.vocabulary import CompileMode

Progress = Callable[[str], None]


def _wants_compile_time(workload: Workload, config: MeasureConfig) -> bool:
    """Cold and warm compiles cost tens of seconds each on a small CPU, and the seed
    variants share nearly all of the host's graph: by default only the bare host (or a
    module of benchmark_module) pays. Every candidate's first call is timed regardless."""
    bare = workload.variant in (None, Variant.BARE.value)
    return config.compile_time is CompileTimeScope.ALL or (
        config.compile_time is CompileTimeScope.BARE and bare
    )


def workload_candidates(workloads: Sequence[Workload], config: MeasureConfig) -> list[Candidate]:
    """Every workload on eager and on each compiled side; eager counts the FLOPs, on an
    unpadded build when the vocabulary is padded (the yardstick is the unpadded model)."""
    eager = Side(key=CompileMode.EAGER.value, mode=CompileMode.EAGER, options=config.options)
    unpadded = dataclasses.replace(config.options, pad_vocab=False)
    return [
        Candidate(
            name=candidate_name(workload, side.key),
            mode=side.mode,
            build=functools.partial(workload.step, side.mode, config, side.options),
            count_flops=not side.mode.compiled,
            flops_build=functools.partial(workload.step, CompileMode.EAGER, config, unpadded)
            if config.options.pad_vocab
            else None,
            measure_compile_time=_wants_compile_time(workload, config),
            detect_attention=workload.detect_attention,
        )
        for workload in workloads
        for side in (eager, *compiled_sides(config))
    ]


def measure_workloads(
    workloads: Sequence[Workload],
    config: MeasureConfig,
    device_name: str,
    progress: Progress | None = None,
) -> tuple[list[BenchmarkResult], GroupMeasurement]:
    """Measure the workloads as one interleaved group: a result per workload and compiled
    side, and the raw measurements (for comparisons between workloads)."""
    measured = measure_candidates(workload_candidates(workloads, config), config, progress)
    results = [
        build_result(workload, side, measured, config=config, device_name=device_name)
        for workload in workloads
        for side in compiled_sides(config)
    ]
    return results, measured


def with_seed_alone(specs: Sequence[WorkloadSpec]) -> list[WorkloadSpec]:
    """The specs, plus the seed on its own when a TRAINING seed is measured (its cost goal)."""
    if not any(spec.variant is Variant.SEED_TRAINING for spec in specs):
        return list(specs)
    return [*specs, dataclasses.replace(specs[0], variant=Variant.SEED_ALONE)]


def run_benchmarks(config: RunConfig, progress: Progress | None = None) -> RunReport:
    """Measure every selected workload, a group (one family and task) at a time; the report
    holds the environment and the run (settings, results, comparisons and goals)."""
    import torch._dynamo.config as dynamo_config

    from benchmarks.workloads import host_workload  # esper is imported only when measuring

    report = progress or (lambda _message: None)
    measure = config.measure
    specs = select_specs(config.workloads, measure.device)
    if config.quick and not config.workloads:
        # Compiling dominates a short run: two variants per group answer "does compiling
        # pay" and "do dormant slots cost anything"; the seed stages need the full run.
        specs = [spec for spec in specs if spec.variant in (Variant.BARE, Variant.DORMANT)]
    groups: dict[str, list[WorkloadSpec]] = {}  # in the order they were selected
    for spec in specs:
        groups.setdefault(spec.group, []).append(spec)
    started = time.perf_counter()
    results: list[BenchmarkResult] = []
    comparisons: list[Comparison] = []
    # Room for every candidate's graphs where torch lacks isolate_recompiles.
    recompile_limit = max(64, dynamo_config.recompile_limit)
    with (
        scoped_num_threads(measure.threads),
        dynamo_config.patch(recompile_limit=recompile_limit),
    ):
        environment = collect_environment(measure.device)
        for index, (group, members) in enumerate(groups.items(), start=1):
            report(f"[{index}] {group}: {', '.join(s.variant.value for s in members)}")
            group_started = time.perf_counter()
            workloads = [host_workload(spec, measure.seed) for spec in with_seed_alone(members)]
            found, measured = measure_workloads(
                workloads, measure, environment.device_name, progress
            )
            # The seed alone is measured for the seed's cost, never reported on its own.
            results.extend(r for r in found if r.variant != Variant.SEED_ALONE.value)
            comparisons.extend(
                group_comparisons(
                    measured.candidates, group=group, task=members[0].task, config=measure
                )
            )
            report(f"[{index}] {group}: done in {time.perf_counter() - group_started:.0f} s")
    goals = evaluate_goals(results, comparisons, environment)
    run = BenchmarkRun(
        config=config,
        results=tuple(results),
        comparisons=tuple(comparisons),
        goals=goals,
        wall_s=time.perf_counter() - started,
        load_average_end=load_average(),
    )
    return RunReport(environment=environment, benchmarks=run)
