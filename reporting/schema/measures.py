"""Measurements as recorded: timing summaries, intervals, clock readings, peak memory."""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Median and quartiles of one candidate's per-round times, in seconds."""

    n: int
    median: float
    q1: float
    q3: float

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"Summary needs at least one sample, got n={self.n}")
        if not self.q1 <= self.median <= self.q3:
            raise ValueError(
                f"quartiles out of order: q1={self.q1} median={self.median} q3={self.q3}"
            )

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """A point estimate with a bootstrap confidence interval around it."""

    point: float
    low: float
    high: float
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if not self.low <= self.high:
            raise ValueError(f"interval bounds out of order: low={self.low} high={self.high}")

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockReading:
    """One reading: the CPU cores' current MHz and, on CUDA, the SM clock."""

    time_s: float  # time.perf_counter() at the reading, to place it among the rounds
    cpu_mhz: tuple[float, ...]  # per logical CPU, as the kernel reports it; empty if unreadable
    cpu_source: str  # where cpu_mhz came from, or "not available"
    gpu_sm_mhz: float | None  # None on CPU, or when no means of reading it exists
    gpu_source: str  # "torch.cuda.clock_rate", "not measured on cpu", or why not

    def __post_init__(self) -> None:
        if any(mhz <= 0 for mhz in self.cpu_mhz):
            raise ValueError(f"clock readings must be positive, got {self.cpu_mhz}")

    @property
    def cpu_mhz_mean(self) -> float | None:
        return sum(self.cpu_mhz) / len(self.cpu_mhz) if self.cpu_mhz else None


class MemoryKind(enum.Enum):
    CUDA_MAX_ALLOCATED = "cuda_max_memory_allocated"
    CPU_PEAK_RSS = "cpu_peak_rss"  # high-water mark reset just before the calls
    CPU_LIFETIME_PEAK_RSS = "cpu_lifetime_peak_rss"  # could not reset: whole-process peak


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakMemory:
    """Peak bytes during the calls, and what was already in use when they began."""

    kind: MemoryKind
    peak_bytes: int
    baseline_bytes: int

    def __post_init__(self) -> None:
        if self.peak_bytes < 0 or self.baseline_bytes < 0:
            raise ValueError(
                f"byte counts must be >= 0, got {self.peak_bytes}, {self.baseline_bytes}"
            )

    @property
    def added_bytes(self) -> int:
        """Growth over the baseline: the memory the calls themselves needed at their peak."""
        return max(0, self.peak_bytes - self.baseline_bytes)
