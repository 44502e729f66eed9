"""Peak memory of a few calls: CUDA max_memory_allocated, or the process's peak RSS on CPU.

On CUDA the caching allocator keeps exact statistics and its peak can be reset. On CPU the
closest measure is the resident set's high-water mark (VmHWM). Linux lets a process reset
its own mark by writing "5" to /proc/self/clear_refs; where that is not allowed the mark
covers the whole process lifetime and the result says so, instead of passing it off as the
peak of the measured calls.
"""

from __future__ import annotations

import gc
import resource
import sys
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.timers import synchronize
from reporting.schema.measures import MemoryKind, PeakMemory


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_rss_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _lifetime_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def measure_peak_memory(
    fn: Callable[[], Any], device: torch.device | str, *, calls: int = 3
) -> PeakMemory:
    """Run ``fn`` ``calls`` times and report the peak memory on ``device``."""
    if calls < 1:
        raise ValueError(f"calls must be >= 1, got {calls}")
    device = torch.device(device)
    gc.collect()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
        for _ in range(calls):
            fn()
        synchronize(device)
        return PeakMemory(
            kind=MemoryKind.CUDA_MAX_ALLOCATED,
            peak_bytes=torch.cuda.max_memory_allocated(device),
            baseline_bytes=baseline,
        )
    reset = _reset_rss_high_water_mark()
    baseline_kib = _status_kib("VmRSS")
    for _ in range(calls):
        fn()
    peak_kib = _status_kib("VmHWM")
    if reset and peak_kib is not None and baseline_kib is not None:
        return PeakMemory(
            kind=MemoryKind.CPU_PEAK_RSS,
            peak_bytes=peak_kib * 1024,
            baseline_bytes=baseline_kib * 1024,
        )
    return PeakMemory(
        kind=MemoryKind.CPU_LIFETIME_PEAK_RSS,
        peak_bytes=_lifetime_peak_rss_bytes(),
        baseline_bytes=(baseline_kib or 0) * 1024,
    )
