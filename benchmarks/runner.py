"""Running the built-in workloads: plan groups, measure each, assemble results and goals.

``run_benchmarks(config)`` is what ``python -m benchmarks.run`` calls after parsing flags.
Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from benchmarks.assemble import build_result, candidate_name, seed_overhead, time_ratio
from benchmarks.goals import evaluate_goals
from benchmarks.measure import Candidate, measure_group_candidates
from benchmarks.specs import (
    DEFAULT_SIZES_CPU,
    DEFAULT_SIZES_CUDA,
    Topology,
    Variant,
    WorkloadSpec,
    select_specs,
)
from foundation.devices import usable_cpus
from foundation.environment import collect_environment, load_average
from foundation.scoped import scoped_num_threads
from reporting.schema.benchmark import BenchmarkResult, BenchmarkRun, Comparison
from reporting.schema.benchmark_settings import (
    CompileTimeScope,
    MeasureConfig,
    RunConfig,
    WorkloadOptions,
)
from reporting.schema.report import RunReport
from reporting.schema.vocabulary import CompileMode, Task

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Workloads measured interleaved with each other: one family and task, several variants."""

    name: str
    specs: tuple[WorkloadSpec, ...]

    def with_seed_alone(self) -> tuple[WorkloadSpec, ...]:
        """The specs, plus the seed on its own when a TRAINING seed is measured (its cost goal)."""
        if not any(spec.variant is Variant.SEED_TRAINING for spec in self.specs):
            return self.specs
        first = self.specs[0]
        alone = WorkloadSpec(
            topology=first.topology, size=first.size, task=first.task, variant=Variant.SEED_ALONE
        )
        return (*self.specs, alone)


def plan_groups(specs: Sequence[WorkloadSpec]) -> list[Group]:
    """Group specs by family and task, keeping the order they were selected in."""
    grouped: dict[str, list[WorkloadSpec]] = {}
    for spec in specs:
        grouped.setdefault(spec.group, []).append(spec)
    return [Group(name=name, specs=tuple(members)) for name, members in grouped.items()]


def _wants_compile_time(variant: Variant, config: MeasureConfig) -> bool:
    """Cold and warm compiles cost tens of seconds each on a small CPU, and the seed
    variants share nearly all of the host's graph: by default only the bare host pays.
    Every candidate's first call is timed and recorded regardless."""
    if config.compile_time is CompileTimeScope.ALL:
        return True
    return config.compile_time is CompileTimeScope.BARE and variant is Variant.BARE


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One compiled setting every spec of a group is measured in: a mode, or a ladder rung."""

    key: str  # the candidate name's suffix: the mode's value, or "rung:<label>"
    mode: CompileMode
    options: WorkloadOptions
    setting: str | None  # the rung's label; None for a plain mode


def compiled_sides(config: MeasureConfig) -> list[Side]:
    """The config's modes, or, when a ladder runs, its rungs that apply to the device."""
    if config.ladder is None:
        return [
            Side(key=mode.value, mode=mode, options=config.options, setting=None)
            for mode in config.modes
        ]
    return [
        Side(key=f"rung:{rung.label}", mode=rung.mode, options=rung.options, setting=rung.label)
        for rung in config.rungs
        if rung.not_applicable is None
    ]


def group_candidates(group: Group, config: MeasureConfig) -> list[Candidate]:
    from benchmarks.workloads import StepBuilder  # esper is imported only when measuring

    eager = Side(
        key=CompileMode.EAGER.value, mode=CompileMode.EAGER, options=config.options, setting=None
    )
    unpadded = dataclasses.replace(config.options, pad_vocab=False)
    candidates = []
    for spec in group.with_seed_alone():
        for side in (eager, *compiled_sides(config)):
            compiled = side.mode.compiled
            candidates.append(
                Candidate(
                    name=f"{spec.variant.value}:{side.key}",
                    mode=side.mode,
                    build=StepBuilder(
                        spec=spec, mode=side.mode, config=config, options=side.options
                    ),
                    count_flops=not compiled,
                    flops_build=StepBuilder(
                        spec=spec, mode=CompileMode.EAGER, config=config, options=unpadded
                    ),
                    measure_compile_time=_wants_compile_time(spec.variant, config),
                    detect_attention=spec.topology is Topology.TRANSFORMER
                    and spec.variant is not Variant.SEED_ALONE,
                )
            )
    return candidates


def measure_group(
    group: Group, config: MeasureConfig, device_name: str, progress: Progress | None = None
) -> tuple[list[BenchmarkResult], list[Comparison]]:
    measured = measure_group_candidates(group_candidates(group, config), config, progress)
    measurements = measured.candidates
    results = []
    for spec in group.specs:
        eager = measurements[candidate_name(spec.variant.value, CompileMode.EAGER)]
        for side in compiled_sides(config):
            results.append(
                build_result(
                    name=spec.name,
                    group=group.name,
                    task=spec.task,
                    variant=spec.variant.value,
                    unit=spec.unit,
                    items_per_call=spec.config.items_per_call,
                    eager=eager,
                    compiled=measurements[f"{spec.variant.value}:{side.key}"],
                    config=config,
                    device_name=device_name,
                    rounds=measured.rounds,
                    setting=side.setting,
                    options=side.options,
                )
            )
    comparisons = []
    # Slot and seed costs are read under plain modes; a ladder's rungs are not modes.
    for mode in (CompileMode.EAGER, *(config.modes if config.ladder is None else ())):
        pairs = [("dormant", "bare")] + [
            (variant.value, "dormant")
            for variant in (Variant.SEED_TRAINING, Variant.SEED_BLENDING, Variant.SEED_FOSSILIZED)
        ]
        for candidate, baseline in pairs:
            found = time_ratio(
                measurements,
                group=group.name,
                mode=mode,
                candidate=candidate,
                baseline=baseline,
                config=config,
            )
            if found is not None:
                comparisons.append(found)
        if group.specs[0].task is Task.TRAIN:
            overhead = seed_overhead(measurements, group=group.name, mode=mode, config=config)
            if overhead is not None:
                comparisons.append(overhead)
    return results, comparisons


@contextlib.contextmanager
def _scoped_recompile_limit(limit: int) -> Iterator[None]:
    """Room for every candidate's graphs where torch lacks isolate_recompiles."""
    import torch._dynamo.config as dynamo_config

    with dynamo_config.patch(recompile_limit=max(limit, dynamo_config.recompile_limit)):
        yield


def run_benchmarks(config: RunConfig, progress: Progress | None = None) -> RunReport:
    """Measure every selected workload; the report holds the environment and the run
    (settings, results, comparisons and goals)."""
    report = progress or (lambda _message: None)
    measure = config.measure
    default_sizes = DEFAULT_SIZES_CUDA if measure.device == "cuda" else DEFAULT_SIZES_CPU
    specs = select_specs(config.workloads, default_sizes=default_sizes)
    if config.quick and not config.workloads:
        # Compiling dominates a short run: two variants per group answer "does compiling
        # pay" and "do dormant slots cost anything"; the seed stages need the full run.
        quick_variants = {Variant.BARE, Variant.DORMANT}
        specs = [spec for spec in specs if spec.variant in quick_variants]
    started = time.perf_counter()
    results: list[BenchmarkResult] = []
    comparisons: list[Comparison] = []
    with scoped_num_threads(measure.threads or usable_cpus()), _scoped_recompile_limit(64):
        environment = collect_environment(measure.device)
        for index, group in enumerate(plan_groups(specs), start=1):
            report(f"[{index}] {group.name}: {', '.join(s.variant.value for s in group.specs)}")
            group_started = time.perf_counter()
            group_results, group_comparisons = measure_group(
                group, measure, environment.device_name, progress
            )
            results.extend(group_results)
            comparisons.extend(group_comparisons)
            report(f"[{index}] {group.name}: done in {time.perf_counter() - group_started:.0f} s")
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
