"""Processes that must not outlive the one that started them.

torch.distributed.run starts each rank in a session of its own, so killing the
launcher's process group (what the audit's runner does to a target that ran out of
time) leaves the ranks running. A rank therefore asks Linux to kill it when its parent
dies (`die_with_parent`), and whoever launched it kills what is left by pid
(`kill_leftovers`). Standard library only: a rank calls this before importing torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def die_with_parent() -> bool:
    """SIGKILL this process when its parent exits; False where Linux's prctl is missing.

    Exits at once when the parent is already gone (the check after prctl closes the race).
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent or parent == 1:
        os._exit(1)
    return True


def is_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or someone else's took the pid
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        # "pid (comm) state ...": the state follows the last ')'
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc here: kill(pid, 0) said it exists


def _command_line(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def signal_processes(pids: Iterable[int], marker: str, signum: int) -> tuple[int, ...]:
    """Send `signum` to each running pid whose command line contains `marker`; those sent to.

    The marker (a path only these processes were given) keeps a pid reused by another
    process out of reach.
    """
    sent = []
    for pid in pids:
        if is_running(pid) and marker in _command_line(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
                sent.append(pid)
    return tuple(sent)


def kill_leftovers(pids: Iterable[int], marker: str, wait_s: float = 5.0) -> tuple[int, ...]:
    """SIGKILL each pid still running whose command line contains `marker`; the pids killed.

    Waits up to `wait_s` for them to be gone.
    """
    killed = signal_processes(pids, marker, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while any(is_running(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed
