"""What is recorded beside a candidate's timings: clocks, peak memory, FLOPs and MFU, and
the attention kernel that ran. Every reading is best effort: what the platform does not
expose is recorded as not available, never estimated.

Clocks are read at the start and end of a group's timed rounds: a CPU that boosts at
first and throttles later, or a GPU whose SM clock drops as it warms, shows up there
rather than as a phantom speedup.

Peak memory on CUDA is the caching allocator's exact, resettable peak; on CPU, the
resident set's high-water mark (VmHWM), which a process resets by writing "5" to
/proc/self/clear_refs. Where that is refused, the mark covers the process lifetime and
the result says so.

FLOPs come from FlopCounterMode on one eager call (matmuls, convolutions and attention,
forward and backward): compiling changes how fast the work runs, not how much of it there
is. The peaks are vendor dense figures (foundation.hardware); an unlisted device gets no MFU.

SDPA picks its backend per call and torch cannot be asked which. Every backend is its own
aten op, which a compiled graph calls as an extern kernel, so one profiled call names it
for eager and compiled steps alike. If inductor decomposes attention into matmuls instead,
no SDPA op appears and the record says so.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import resource
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.timers import synchronize
from foundation.hardware import gpu_part
from reporting.schema.measures import ClockReading, MemoryKind, PeakMemory

NOT_AVAILABLE = "not available"


def read_cpu_mhz(
    sysfs_pattern: str = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq",
    cpuinfo_path: str = "/proc/cpuinfo",
) -> tuple[tuple[float, ...], str]:
    """(MHz per CPU, source). cpufreq first: /proc/cpuinfo's figure is stale on some kernels."""
    with contextlib.suppress(OSError, ValueError):  # an unreadable source: try the next
        paths = sorted(glob.glob(sysfs_pattern))
        found = tuple(int(Path(p).read_text(encoding="ascii")) / 1000.0 for p in paths)  # kHz
        if found:
            return found, "cpufreq scaling_cur_freq"
    with contextlib.suppress(OSError, ValueError), open(cpuinfo_path, encoding="utf-8") as info:
        lines = [line for line in info if line.lower().startswith("cpu mhz")]
        if lines:
            return tuple(float(line.split(":", 1)[1]) for line in lines), "/proc/cpuinfo cpu MHz"
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


def _status_kib(field: str) -> int | None:
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/self/status", encoding="ascii") as status,
    ):
        return next((int(line.split()[1]) for line in status if line.startswith(field + ":")), None)
    return None


def _reset_rss_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


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
        kind, peak = MemoryKind.CPU_PEAK_RSS, peak_kib * 1024
    else:
        lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        kind = MemoryKind.CPU_LIFETIME_PEAK_RSS
        peak = lifetime if sys.platform == "darwin" else lifetime * 1024
    return PeakMemory(kind=kind, peak_bytes=peak, baseline_bytes=(baseline_kib or 0) * 1024)


def matmul_precision(dtype: torch.dtype) -> str:
    """The precision matmuls really run at: bf16, tf32 (fp32 with TF32 allowed) or fp32."""
    if dtype == torch.bfloat16:
        return "bf16"
    if dtype == torch.float32:
        return "fp32" if torch.get_float32_matmul_precision() == "highest" else "tf32"
    raise ValueError(f"no peak table entry for dtype {dtype}; expected float32 or bfloat16")


def dense_peak_flops(device_name: str, precision: str) -> float | None:
    """The part's dense peak at this precision (foundation.hardware), None for an unlisted GPU."""
    part = gpu_part(device_name)
    return None if part is None else part.peak(precision)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn``, counted by FlopCounterMode; run it eagerly."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def model_flops_utilization(
    flops_per_call: int, seconds_per_call: float, peak_flops: float
) -> float:
    """Achieved FLOP/s as a fraction of the peak (0.4 means 40 %)."""
    if seconds_per_call <= 0 or peak_flops <= 0:
        raise ValueError(f"need positive time and peak, got {seconds_per_call}, {peak_flops}")
    return flops_per_call / seconds_per_call / peak_flops


NO_SDPA_OP = "no SDPA op in the trace"

# Checked in order: the CPU flash op's name contains the CUDA flash op's.
_KERNEL_OPS = (
    ("_scaled_dot_product_flash_attention_for_cpu", "flash (cpu)"),
    ("_scaled_dot_product_flash_attention", "flash"),
    ("_scaled_dot_product_efficient_attention", "efficient"),
    ("_scaled_dot_product_cudnn_attention", "cudnn"),
    ("_scaled_dot_product_fused_attention_overrideable", "overrideable"),
    ("_scaled_dot_product_attention_math", "math"),
)


def kernels_in(op_names: Iterable[str]) -> tuple[str, ...]:
    """The SDPA backends named by forward ops of a trace, sorted; backward ops are skipped."""
    forward = [name for name in op_names if "backward" not in name.lower()]
    found = {next((kernel for op, kernel in _KERNEL_OPS if op in name), "") for name in forward}
    return tuple(sorted(found - {""}))


def attention_kernel(step: Callable[[], Any]) -> str:
    """The SDPA backend(s) one call of ``step`` ran, e.g. 'flash (cpu)', or NO_SDPA_OP."""
    with profile(activities=[ProfilerActivity.CPU]) as trace:
        step()
    kernels = kernels_in(event.name for event in trace.events())
    return ", ".join(kernels) if kernels else NO_SDPA_OP
