"""Which device a run uses, and how many CPUs it may use.

The parent of the audit's children must never initialise CUDA (a forked child could
not use it afterwards), so the CUDA device is described by a child (`probe_cuda`);
benchmarks, which run in one process, may ask torch directly (`local_cuda`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from foundation.cli import UsageError
from foundation.processes import call_in_child, torch_has_gpu_support

DEVICES = ("auto", "cpu", "cuda")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaDevice:
    """The first visible CUDA device."""

    name: str  # torch.cuda.get_device_name(0), e.g. "NVIDIA H200"
    capability: str  # e.g. "9.0"


def local_cuda() -> CudaDevice | None:
    """The CUDA device as this process sees it; initialises CUDA in this process."""
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return CudaDevice(name=torch.cuda.get_device_name(0), capability=f"{major}.{minor}")


def probe_cuda(start_method: str) -> CudaDevice | None:
    """The CUDA device, or None; asked in a child so that this process never initialises CUDA.

    torch.cuda.is_available() itself initialises the CUDA driver (and so poisons fork)
    when NVML cannot answer, as on a CUDA build without a GPU driver.
    """
    if not torch_has_gpu_support():
        return None
    ok, outcome = call_in_child(local_cuda, start_method=start_method, timeout_s=120.0)
    return outcome if ok and isinstance(outcome, CudaDevice) else None


def resolve_device(requested: str, cuda: CudaDevice | None) -> str:
    """'cpu' or 'cuda' for `--device requested`; UsageError naming the value otherwise.

    auto picks CUDA when `cuda` (the probed device) exists.
    """
    if requested not in DEVICES:
        raise UsageError(f"--device {requested!r}: valid devices are {', '.join(DEVICES)}")
    if requested == "cuda" and cuda is None:
        raise UsageError("--device cuda: CUDA is not available here; valid devices: auto, cpu")
    if requested == "auto":
        return "cuda" if cuda is not None else "cpu"
    return requested
