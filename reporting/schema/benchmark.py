"""Typed results of a benchmark run: timings, speedups, comparisons and goal verdicts.

Everything a run produces is a frozen dataclass; JSON exists only at the edge, in the
report (reporting.schema.report).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from reporting.schema.benchmark_settings import RunConfig, WorkloadOptions
from reporting.schema.measures import ClockReading, Interval, PeakMemory, Summary
from reporting.schema.vocabulary import CompileMode, Precision, Task


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeTiming:
    """One candidate's steady-state timing: per-call seconds of each interleaved round."""

    mode: CompileMode
    per_call_s: tuple[float, ...]
    summary: Summary
    iters_per_block: int
    warmup_blocks: int
    steady: bool  # warm-up ended with the last blocks agreeing within tolerance
    # The first call while the group was being set up: for a compiled mode mostly compiling,
    # but sharing in-memory caches with candidates built before it. CompileTime is the
    # clean measure; this is kept to show what a warm process pays.
    first_call_s: float

    def __post_init__(self) -> None:
        if len(self.per_call_s) != self.summary.n:
            raise ValueError(f"{len(self.per_call_s)} samples but summary of {self.summary.n}")

    def throughput(self, items_per_call: int) -> float:
        """Items per second at the median call time."""
        return items_per_call / self.summary.median


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundsRecord:
    """How a group's rounds ran: the order of candidates in each round and the clocks.

    The same record is attached to every result of the group, since the rounds are shared.
    """

    order_seed: int | None  # the generator seed of the orders; None for the plain rotation
    orders: tuple[tuple[str, ...], ...]  # candidate names, one tuple per round, in run order
    clock_start: ClockReading  # just before the first timed round
    clock_end: ClockReading  # just after the last

    def __post_init__(self) -> None:
        if not self.orders:
            raise ValueError("a rounds record needs at least one round")


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileTime:
    """Wall time of the first compiled call, with an empty and with a filled inductor cache."""

    cold_s: float  # fresh process state, empty on-disk cache
    warm_s: float  # fresh process state, the cache the cold compile filled


class ErrorPhase(enum.Enum):
    BUILD = "build"
    COMPILE = "compile"
    MEASURE = "measure"


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchmarkError:
    phase: ErrorPhase
    message: str  # exception type and message
    traceback: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchmarkResult:
    """Eager against one compiled mode for one workload, measured interleaved."""

    name: str  # workload name, e.g. "cnn-small/infer/dormant", or the audit target's name
    group: str  # workloads measured interleaved with each other share a group
    task: Task
    variant: str | None
    device: str
    precision: Precision
    backend: str
    mode: CompileMode  # the compiled side of the comparison
    unit: str  # "images/s", "tokens/s" or "calls/s"
    items_per_call: int
    eager: ModeTiming | None
    compiled: ModeTiming | None
    speedup: Interval | None  # median eager time / median compiled time, paired bootstrap CI
    per_round_speedup: tuple[float, ...]
    compile_time: CompileTime | None
    memory_eager: PeakMemory | None
    memory_compiled: PeakMemory | None
    flops_per_call: int | None
    mfu_eager: float | None
    mfu_compiled: float | None
    error: BenchmarkError | None = None
    rounds: RoundsRecord | None = None  # order and clocks of the group's rounds
    setting: str | None = None  # the ladder rung of the compiled side, if a ladder ran
    options: WorkloadOptions = WorkloadOptions()  # the compiled side's levers
    # The SDPA kernel one call ran (benchmarks.probes), for transformer workloads.
    attention_eager: str | None = None
    attention_compiled: str | None = None

    def __post_init__(self) -> None:
        if self.items_per_call < 1:
            raise ValueError(f"items_per_call must be >= 1, got {self.items_per_call}")
        if self.error is None and (self.eager is None or self.compiled is None):
            raise ValueError(f"{self.name}: a result without an error needs both timings")

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A statistic over candidates of one group, e.g. dormant vs bare, with its CI."""

    name: str  # e.g. "dormant-vs-bare"
    group: str
    mode: CompileMode
    description: str
    estimate: Interval


class GoalStatus(enum.Enum):
    MET = "met"
    MISSED = "missed"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True, slots=True, kw_only=True)
class GoalVerdict:
    goal: str  # stable identifier, e.g. "cpu.cnn.infer.speedup"
    description: str
    status: GoalStatus
    target: str  # the threshold in words, e.g. ">= 2.0x"
    measured: Interval | None
    detail: str  # why: the figure, or what was missing


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchmarkRun:
    """One benchmarks.run (or the audit's host benchmarks); the environment is the report's."""

    config: RunConfig
    results: tuple[BenchmarkResult, ...]
    comparisons: tuple[Comparison, ...]
    goals: tuple[GoalVerdict, ...]
    wall_s: float
    load_average_end: tuple[float, float, float] | None = None  # beside environment.load_average
