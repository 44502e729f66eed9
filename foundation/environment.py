"""The environment recorded beside every run: what ran, where, and on which code.

One record serves both tools. Timings mean nothing without it: the report compares
timings only between runs on the same device and torch version, and names the run's
folder after its time and commit.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from foundation.devices import CudaDevice, local_cuda, usable_cpus

_REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentRecord:
    """One run's software, hardware and source revision."""

    torch_version: str
    python_version: str
    platform: str
    device_kind: str  # "cpu" or "cuda": what the timings ran on
    device_name: str  # GPU name on CUDA, otherwise the CPU model
    cpu_model: str
    cpu_count: int | None  # logical CPUs visible to this process
    threads: int  # torch intra-op threads during the measurement
    interop_threads: int
    cuda_version: str | None  # the CUDA torch was built with; None for a CPU build
    cuda_driver: str | None  # from nvidia-smi where it exists
    cuda_capability: str | None
    git_sha: str | None
    git_dirty: bool | None
    time_utc: str  # ISO 8601, seconds, with a Z
    # 1, 5 and 15 minute load averages when recorded: on a shared machine, other jobs'
    # load is the main source of noise, and a reader should see it next to the figures.
    load_average: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.device_kind not in ("cpu", "cuda"):
            raise ValueError(f"device_kind must be 'cpu' or 'cuda', got {self.device_kind!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")

    @property
    def short_sha(self) -> str:
        """Seven characters of the sha, -dirty for a changed tree; 'nogit' without git."""
        if self.git_sha is None:
            return "nogit"
        return self.git_sha[:7] + ("-dirty" if self.git_dirty else "")


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, falling back to platform.processor()."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _output(*argv: str) -> str | None:
    """A command's stripped stdout, or None where it is missing or fails."""
    try:
        completed = subprocess.run(
            argv, cwd=_REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def git_revision() -> tuple[str | None, bool | None]:
    """(sha of HEAD, whether tracked files differ from it); (None, None) outside a git checkout.

    reports/ does not count: a run that replaces a committed report folder (the version
    matrix, a baseline update) changes what it writes, not the code it ran.
    """
    sha = _output("git", "rev-parse", "HEAD")
    if not sha:
        return None, None
    status = _output(
        "git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"
    )
    return sha, None if status is None else bool(status)


def _cuda_driver() -> str | None:
    found = _output("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader")
    return found.splitlines()[0].strip() if found else None


def load_average() -> tuple[float, float, float] | None:
    """os.getloadavg(), or None where the platform has none."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def collect_environment(
    device: str = "cpu",
    cuda: CudaDevice | None = None,
    *,
    started_at: _dt.datetime | None = None,
    threads: int | None = None,
) -> EnvironmentRecord:
    """Record the environment now, or as of `started_at`.

    `cuda` is the device when the caller knows it: a process that forks or serves
    children must not ask torch.cuda (which initialises CUDA), so the audit passes what
    its child probe found. `threads` is the intra-op thread count the measurement used,
    when it ran in other processes (the audit's children); this process's count otherwise.
    """
    on_cuda = device == "cuda"
    if on_cuda and cuda is None:
        cuda = local_cuda()
        if cuda is None:
            raise ValueError("device 'cuda', but torch sees no CUDA device")
    sha, dirty = git_revision()
    model = cpu_model()
    moment = (started_at or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    return EnvironmentRecord(
        torch_version=torch.__version__,
        python_version=sys.version.split()[0],
        platform=platform.platform(),
        device_kind=device,
        device_name=cuda.name if on_cuda and cuda else model,
        cpu_model=model,
        cpu_count=usable_cpus(),
        threads=threads or torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        cuda_version=torch.version.cuda,
        cuda_driver=_cuda_driver() if on_cuda else None,
        cuda_capability=cuda.capability if on_cuda and cuda else None,
        git_sha=sha,
        git_dirty=dirty,
        time_utc=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        load_average=load_average(),
    )
