"""Measuring one group of candidates: compile time, warm-up, interleaved rounds, memory, FLOPs.

A *candidate* is something that can build a ready step (a model in one variant and one
mode, with its inputs and optimizer) and whose calls can be timed. Candidates of a group
are measured together so their rounds interleave. The phases, in order:

1. compile time, per compiled candidate: first call after a compiler reset with an empty
   inductor cache directory (cold), then again with the directory the cold call filled
   (warm). Each candidate keeps its directory, so phase 2 recompiles from a warm cache.
2. build every candidate afresh, time its first call, pick calls per block, warm up.
3. interleaved rounds (benchmarks.interleave).
4. peak memory of a few calls, FLOPs of one eager call, and the SDPA kernel one call ran
   (benchmarks.probes), per candidate.

A candidate that raises is recorded with its error and left out of the later phases; the
others go on.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from benchmarks.interleave import (
    Step,
    WarmupOutcome,
    calibrate_iters,
    round_orders,
    run_interleaved,
    warm_up,
)
from benchmarks.probes import attention_kernel, count_flops, measure_peak_memory, read_clocks
from benchmarks.timers import synchronize, timer_for
from foundation.scoped import reset_compiler_state, scoped_inductor_cache
from reporting.schema.benchmark import BenchmarkError, CompileTime, ErrorPhase, RoundsRecord
from reporting.schema.benchmark_settings import CompileTimeScope, MeasureConfig
from reporting.schema.measures import PeakMemory
from reporting.schema.vocabulary import CompileMode


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    name: str  # unique within the group
    mode: CompileMode
    build: Callable[[], Step]  # builds model, inputs and optimizer; compiling happens on first call
    count_flops: bool = False  # count FLOPs on this candidate's step (an eager one)
    # Builds the step whose FLOPs are counted, when not this candidate's own: a padded
    # vocabulary must not raise the count (the yardstick is the unpadded model).
    flops_build: Callable[[], Step] | None = None
    measure_compile_time: bool = True  # cold and warm cache first calls (compiled modes only)
    detect_attention: bool = False  # record which SDPA kernel one call runs


@dataclass(slots=True, kw_only=True)
class CandidateMeasurement:
    """What the phases found for one candidate; mutable while the group is measured."""

    name: str
    mode: CompileMode
    per_call_s: list[float] = field(default_factory=list)
    iters_per_block: int = 0
    warmup: WarmupOutcome | None = None
    first_call_s: float | None = None
    compile_time: CompileTime | None = None
    memory: PeakMemory | None = None
    flops_per_call: int | None = None
    attention_kernel: str | None = None
    error: BenchmarkError | None = None


@dataclass(slots=True, kw_only=True)
class GroupMeasurement:
    """Every candidate's measurement, and how the shared rounds ran (None if none ran)."""

    candidates: dict[str, CandidateMeasurement]
    rounds: RoundsRecord | None = None


def _error(phase: ErrorPhase, exc: BaseException) -> BenchmarkError:
    return BenchmarkError(
        phase=phase,
        message=f"{type(exc).__name__}: {exc}",
        traceback="".join(traceback.format_exception(exc)),
    )


def _time_first_call(step: Step, device: torch.device) -> float:
    """Seconds of one call, waiting for the device: for a compiled step, mostly compiling."""
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection pauses inside timed rounds; collect once before them."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _prime_compiler(device: torch.device, backend: str) -> None:
    """Compile a trivial function once, so the first measured compile does not pay for
    importing the compiler stack and starting its worker pool."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-prime-") as directory,
        scoped_inductor_cache(directory),
    ):
        reset_compiler_state()
        torch.compile(lambda x: x * 2 + 1, backend=backend)(torch.ones(4, device=device))
        reset_compiler_state()


def measure_candidates(
    candidates: Sequence[Candidate],
    config: MeasureConfig,
    progress: Callable[[str], None] | None = None,
) -> GroupMeasurement:
    """Run all phases for one group: each candidate's measurement, and the rounds' record.

    ``progress`` receives one line per finished step (for a terminal); it never affects
    what is measured.
    """
    report = progress or (lambda _line: None)
    names = [candidate.name for candidate in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be unique, got {names}")
    device = torch.device(config.device)
    timer = timer_for(device)
    found = {c.name: CandidateMeasurement(name=c.name, mode=c.mode) for c in candidates}
    group = GroupMeasurement(candidates=found)
    with tempfile.TemporaryDirectory(prefix="bench-inductor-") as cache_root:
        cache_dirs = {c.name: os.path.join(cache_root, str(i)) for i, c in enumerate(candidates)}
        try:
            if any(c.mode.compiled for c in candidates):
                _prime_compiler(device, config.backend)
            timed = config.compile_time is not CompileTimeScope.NONE
            for candidate in candidates:
                if not (timed and candidate.mode.compiled and candidate.measure_compile_time):
                    continue
                try:
                    with scoped_inductor_cache(cache_dirs[candidate.name]):
                        reset_compiler_state()
                        cold = _time_first_call(candidate.build(), device)
                        reset_compiler_state()  # the directory the cold call filled: warm
                        warm = _time_first_call(candidate.build(), device)
                except Exception as exc:  # recorded in the result, the group goes on
                    found[candidate.name].error = _error(ErrorPhase.COMPILE, exc)
                    report(f"  {candidate.name}: compile failed: {exc}")
                    continue
                found[candidate.name].compile_time = CompileTime(cold_s=cold, warm_s=warm)
                report(f"  {candidate.name}: compile {cold:.1f} s cold, {warm:.1f} s warm")

            reset_compiler_state()
            steps: dict[str, Step] = {}
            for candidate in candidates:
                if (measurement := found[candidate.name]).error is not None:
                    continue
                phase = ErrorPhase.BUILD
                try:
                    step = candidate.build()
                    phase = ErrorPhase.COMPILE if candidate.mode.compiled else ErrorPhase.MEASURE
                    with scoped_inductor_cache(cache_dirs[candidate.name]):
                        measurement.first_call_s = _time_first_call(step, device)
                    phase = ErrorPhase.MEASURE
                    iters = calibrate_iters(step, timer, min_block_s=config.min_block_s)
                    measurement.iters_per_block = iters
                    measurement.warmup = warm_up(
                        step,
                        timer,
                        iters=iters,
                        min_blocks=min(2, config.warmup_max_blocks),
                        max_blocks=config.warmup_max_blocks,
                        window=config.warmup_window,
                        tolerance=config.warmup_tolerance,
                    )
                except Exception as exc:
                    measurement.error = _error(phase, exc)
                    report(f"  {candidate.name}: {phase.value} failed: {exc}")
                    continue
                steps[candidate.name] = step
                report(
                    f"  {candidate.name}: first call {measurement.first_call_s:.1f} s, "
                    f"{iters} calls/block, warm-up {measurement.warmup.blocks} blocks"
                )
            if steps:
                started = time.perf_counter()
                order_seed = config.seed if config.randomize_order else None
                orders = round_orders(list(steps), config.rounds, seed=order_seed)
                clock_start = read_clocks(device)
                block_iters = {name: found[name].iters_per_block for name in steps}
                with _gc_paused():
                    try:
                        per_call = run_interleaved(
                            steps, timer, rounds=config.rounds, iters=block_iters, orders=orders
                        )
                    except Exception as exc:  # every timed candidate's error
                        for name in steps:
                            found[name].error = _error(ErrorPhase.MEASURE, exc)
                        return group
                group.rounds = RoundsRecord(
                    order_seed=order_seed,
                    orders=tuple(orders),
                    clock_start=clock_start,
                    clock_end=read_clocks(device),
                )
                for name, values in per_call.items():
                    found[name].per_call_s = values
                report(f"  {config.rounds} rounds in {time.perf_counter() - started:.0f} s")

            for candidate in (c for c in candidates if c.name in steps):
                step, measurement = steps[candidate.name], found[candidate.name]
                try:
                    if config.memory:
                        measurement.memory = measure_peak_memory(step, device)
                    if config.flops and candidate.count_flops:
                        counted = step if candidate.flops_build is None else candidate.flops_build()
                        measurement.flops_per_call = count_flops(counted)
                    if candidate.detect_attention:
                        measurement.attention_kernel = attention_kernel(step)
                except Exception as exc:
                    measurement.error = _error(ErrorPhase.MEASURE, exc)
        finally:
            reset_compiler_state()
    return group
