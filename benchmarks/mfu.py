"""Model FLOPs utilization: counted FLOPs per call over time, against the chip's dense peak.

FLOPs come from torch.utils.flop_counter.FlopCounterMode on one eager call (matmuls,
convolutions and attention, forward and backward), so eager and compiled share the same
count: compiling changes how fast the work runs, not how much of it the model asks for.
The peaks are vendor dense figures (no structured sparsity). A device missing from the
table yields no MFU rather than a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

# (substring of torch.cuda.get_device_name, precision) -> dense peak FLOP/s.
# Checked in order, so the more specific name (H100 PCIe) precedes the general one.
DENSE_PEAK_FLOPS: tuple[tuple[str, str, float], ...] = (
    ("H100 PCIe", "bf16", 756e12),
    ("H100 PCIe", "tf32", 378e12),
    ("H100 PCIe", "fp32", 51e12),
    ("H100", "bf16", 989e12),  # SXM5 (the "80GB HBM3" part)
    ("H100", "tf32", 494.5e12),
    ("H100", "fp32", 67e12),
    ("H200", "bf16", 989e12),
    ("H200", "tf32", 494.5e12),
    ("H200", "fp32", 67e12),
    ("A100", "bf16", 312e12),
    ("A100", "tf32", 156e12),
    ("A100", "fp32", 19.5e12),
)


def matmul_precision(dtype: torch.dtype) -> str:
    """The precision matmuls really run at: bf16, tf32 (fp32 with TF32 allowed) or fp32."""
    if dtype == torch.bfloat16:
        return "bf16"
    if dtype == torch.float32:
        return "fp32" if torch.get_float32_matmul_precision() == "highest" else "tf32"
    raise ValueError(f"no peak table entry for dtype {dtype}; expected float32 or bfloat16")


def dense_peak_flops(device_name: str, precision: str) -> float | None:
    """The table's peak for this device and precision, or None when the device is not listed."""
    for name, table_precision, peak in DENSE_PEAK_FLOPS:
        if name in device_name and table_precision == precision:
            return peak
    return None


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
