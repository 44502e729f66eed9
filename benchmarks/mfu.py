"""Model FLOPs utilization: counted FLOPs per call over time, against the chip's dense peak.

FLOPs come from torch.utils.flop_counter.FlopCounterMode on one eager call (matmuls,
convolutions and attention, forward and backward), so eager and compiled share the same
count: compiling changes how fast the work runs, not how much of it the model asks for.
The peaks are vendor dense figures (no structured sparsity, foundation.hardware). A device
missing from that table yields no MFU rather than a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from foundation.hardware import gpu_part


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
