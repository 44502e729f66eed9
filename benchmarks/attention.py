"""Which kernel scaled_dot_product_attention really ran: read from a profiler trace.

SDPA picks its backend per call from the inputs, the device and the allowed set, and
torch offers no query for "what did you pick". Every backend is its own aten op, and a
compiled graph calls the same op as an extern kernel, so one profiled call names the
backend for eager and compiled steps alike. Inductor could instead decompose attention
into matmuls; then no SDPA op appears and the record says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch.profiler import ProfilerActivity, profile

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
    found = set()
    for name in op_names:
        if "backward" in name.lower():
            continue
        for op, kernel in _KERNEL_OPS:
            if op in name:
                found.add(kernel)
                break
    return tuple(sorted(found))


def attention_kernel(step: Callable[[], Any]) -> str:
    """The SDPA backend(s) one call of ``step`` ran, e.g. 'flash (cpu)', or NO_SDPA_OP."""
    with profile(activities=[ProfilerActivity.CPU]) as trace:
        step()
    kernels = kernels_in(event.name for event in trace.events())
    return ", ".join(kernels) if kernels else NO_SDPA_OP
