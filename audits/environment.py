"""What a run's numbers depend on: versions, device, commit. Recorded beside the results."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime

import torch

from audits.results import Environment
from audits.start_method import call_in_child, torch_has_gpu_support


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaDevice:
    """The first visible CUDA device, as the targets' subprocesses will see it."""

    name: str  # torch.cuda.get_device_name(0), e.g. "NVIDIA H200"
    capability: str  # e.g. "9.0"


def _describe_cuda() -> CudaDevice | None:
    # Runs in a child: these calls initialise CUDA in the process that makes them.
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return CudaDevice(name=torch.cuda.get_device_name(0), capability=f"{major}.{minor}")


def probe_cuda(start_method: str) -> CudaDevice | None:
    """The CUDA device, or None; asked in a child so that the parent never initialises CUDA.

    torch.cuda.is_available() itself initialises the CUDA driver (and so poisons fork)
    when NVML cannot answer, as on a CUDA build without a GPU driver.
    """
    if not torch_has_gpu_support():
        return None
    ok, outcome = call_in_child(_describe_cuda, start_method=start_method, timeout_s=120.0)
    return outcome if ok and isinstance(outcome, CudaDevice) else None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def collect_environment(
    device: str, started_at: datetime, cuda: CudaDevice | None = None
) -> Environment:
    """The run's environment; `cuda` is the probed device (the parent never asks CUDA)."""
    name = cuda.name if device == "cuda" and cuda is not None else _cpu_name()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return Environment(
        torch_version=torch.__version__,
        python_version=platform.python_version(),
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        device=device,
        device_name=name,
        cpu_count=usable_cpus(),
        git_sha=_git("rev-parse", "HEAD"),
        git_dirty=None if status is None else bool(status),
        started_at=started_at.isoformat(timespec="seconds"),
    )
