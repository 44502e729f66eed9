"""What a run's numbers depend on: versions, device, commit. Recorded beside the results."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime

import torch

from audits.results import Environment


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cuda_available() -> bool:
    # NVML answers without creating a CUDA context: the parent must not hold
    # one, since it forks the targets' subprocesses.
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    return torch.cuda.is_available()


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


def collect_environment(device: str, started_at: datetime) -> Environment:
    """Call after the targets' subprocesses have finished (it may initialise CUDA)."""
    name = torch.cuda.get_device_name(0) if device == "cuda" else _cpu_name()
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
