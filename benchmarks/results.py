"""Typed results of a benchmark run, and their versioned JSON form.

Everything a run produces is a frozen dataclass; JSON exists only at the edge
(:func:`run_to_json` / :func:`run_from_json`). The reader refuses another schema or version
with a ValueError naming both, so the reports layer never half-reads an old file.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from benchmarks.clocks import ClockReading
from benchmarks.config import RunConfig
from benchmarks.environment import EnvironmentRecord
from benchmarks.levers import WorkloadOptions
from benchmarks.memory import PeakMemory
from benchmarks.modes import CompileMode, Precision
from benchmarks.stats import Interval, Summary

SCHEMA = "esper.benchmarks"
SCHEMA_VERSION = 1


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
    task: str  # "infer" or "train"
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
    # The SDPA kernel one call ran (benchmarks.attention), for transformer workloads.
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
    environment: EnvironmentRecord
    config: RunConfig
    results: tuple[BenchmarkResult, ...]
    comparisons: tuple[Comparison, ...]
    goals: tuple[GoalVerdict, ...]
    wall_s: float
    load_average_end: tuple[float, float, float] | None = None  # beside environment.load_average


# --- JSON at the edge ---------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, enums to their values, tuples to lists, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot serialize {type(value).__name__}: {value!r}")


def from_jsonable(kind: Any, data: Any) -> Any:
    """Rebuild a value of type ``kind`` from :func:`to_jsonable` output."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_jsonable(option, data)
            except (TypeError, ValueError, KeyError) as error:
                errors.append(str(error))
        raise ValueError(f"{data!r} fits none of {options}: {errors}")
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(data, list):
            raise TypeError(f"expected a list for {kind}, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], item) for item in data)
        return tuple(from_jsonable(arg, item) for arg, item in zip(args, data, strict=True))
    if origin is dict:
        _, value_kind = typing.get_args(kind)
        return {key: from_jsonable(value_kind, item) for key, item in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {kind.__name__}, got {type(data).__name__}")
        hints = typing.get_type_hints(kind)
        names = {field.name for field in dataclasses.fields(kind) if field.init}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fields for {kind.__name__}: {sorted(unknown)}")
        return kind(
            **{name: from_jsonable(hints[name], data[name]) for name in names if name in data}
        )
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"expected a number, got {data!r}")
        return float(data)
    if kind in (int, str, bool):
        if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
            raise TypeError(f"expected {kind.__name__}, got {data!r}")
        return data
    if kind is Any:
        return data
    raise TypeError(f"cannot deserialize into {kind!r}")


def run_to_json(run: BenchmarkRun) -> str:
    document = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run": to_jsonable(run)}
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def run_from_json(text: str) -> BenchmarkRun:
    """Parse a run; ValueError for another schema, another version, or malformed content."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("benchmark JSON must be an object")
    schema, version = document.get("schema"), document.get("schema_version")
    if schema != SCHEMA or version != SCHEMA_VERSION:
        raise ValueError(
            f"unsupported benchmark file: schema {schema!r} version {version!r}; "
            f"this reader takes {SCHEMA!r} version {SCHEMA_VERSION}"
        )
    return from_jsonable(BenchmarkRun, document["run"])
