"""Clock frequencies read at the start and end of a group's timed rounds.

A ratio between two candidates is only as good as the conditions both ran under; a CPU
that boosts at first and throttles later, or a GPU that drops its SM clock when it warms,
shows up here rather than as a phantom speedup. Readings are best effort: what the
platform does not expose is recorded as not available, never estimated.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable

import torch

from reporting.schema.measures import ClockReading

NOT_AVAILABLE = "not available"


def _read_sysfs_mhz(pattern: str) -> tuple[float, ...]:
    values = []
    for path in sorted(glob.glob(pattern)):
        try:
            with open(path, encoding="ascii") as handle:
                values.append(int(handle.read().strip()) / 1000.0)  # kHz
        except (OSError, ValueError):
            return ()
    return tuple(values)


def _read_cpuinfo_mhz(path: str) -> tuple[float, ...]:
    values = []
    try:
        with open(path, encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("cpu mhz"):
                    values.append(float(line.split(":", 1)[1]))
    except (OSError, ValueError):
        return ()
    return tuple(values)


def read_cpu_mhz(
    sysfs_pattern: str = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq",
    cpuinfo_path: str = "/proc/cpuinfo",
) -> tuple[tuple[float, ...], str]:
    """(MHz per CPU, source). cpufreq first: /proc/cpuinfo's figure is stale on some kernels."""
    found = _read_sysfs_mhz(sysfs_pattern)
    if found:
        return found, "cpufreq scaling_cur_freq"
    found = _read_cpuinfo_mhz(cpuinfo_path)
    if found:
        return found, "/proc/cpuinfo cpu MHz"
    return (), NOT_AVAILABLE


def read_gpu_sm_mhz(
    device: torch.device, clock_rate: Callable[[torch.device], int] | None = None
) -> tuple[float | None, str]:
    """(SM MHz, source) on CUDA. torch.cuda.clock_rate asks NVML, which needs pynvml."""
    if device.type != "cuda":
        return None, f"not measured on {device.type}"
    reader = clock_rate or getattr(torch.cuda, "clock_rate", None)
    if reader is None:
        return None, "not available: this torch has no torch.cuda.clock_rate"
    try:
        return float(reader(device)), "torch.cuda.clock_rate"
    except Exception as exc:  # pynvml missing, NVML refusing: recorded, never raised
        return None, f"not available: {type(exc).__name__}: {exc}"


def read_clocks(device: torch.device | str) -> ClockReading:
    device = torch.device(device)
    cpu_mhz, cpu_source = read_cpu_mhz()
    gpu_mhz, gpu_source = read_gpu_sm_mhz(device)
    return ClockReading(
        time_s=time.perf_counter(),
        cpu_mhz=cpu_mhz,
        cpu_source=cpu_source,
        gpu_sm_mhz=gpu_mhz,
        gpu_source=gpu_source,
    )
