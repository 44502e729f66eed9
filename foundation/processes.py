"""How the audit starts its children: fork where it is safe, forkserver where it is not.

A forked child inherits the parent's CUDA state. Once a process has asked the CUDA
runtime anything (`torch.cuda.is_available()` without a working NVML, `device_count()`,
`get_device_name()`), torch registers a fork handler, and every child forked afterwards
raises "Cannot re-initialize CUDA in forked subprocess" at its first CUDA call. That is
what a CUDA build of torch 2.5.1 on a machine without a GPU did to the FlexAttention
target: NVML was missing, so the availability probe fell back to the CUDA runtime.

A CPU-only build of torch cannot initialise CUDA at all, so fork stays (it is the
fastest: children start with torch and the compile stack already imported). With any
CUDA (or ROCm) build the children come from a forkserver instead: a fresh interpreter
that imports torch and the compile stack once, never touches the device, and forks
every child. Whatever the parent did to CUDA before then cannot reach the children.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext

import torch

AUTO = "auto"
START_METHODS = ("fork", "forkserver", "spawn")


def torch_has_gpu_support() -> bool:
    """Whether this torch build could initialise a GPU runtime (CUDA or ROCm)."""
    return torch.backends.cuda.is_built() or torch.version.hip is not None


def choose_start_method(requested: str, *, gpu_build: bool) -> str:
    """The start method for `--start-method requested`; ValueError for an unsafe or unknown one.

    auto: fork on a CPU-only build of torch, forkserver on a CUDA/ROCm build.
    """
    if requested == AUTO:
        return "forkserver" if gpu_build else "fork"
    if requested not in START_METHODS:
        raise ValueError(
            f"--start-method {requested!r}: valid methods are {AUTO}, {', '.join(START_METHODS)}"
        )
    if requested == "fork" and gpu_build:
        raise ValueError(
            "--start-method 'fork': this torch is a CUDA build, and a forked child cannot use "
            "CUDA once the parent has touched it; use auto, forkserver or spawn"
        )
    return requested


def safe_start_method() -> str:
    """What `auto` picks for this build: the default of every API that starts children."""
    return choose_start_method(AUTO, gpu_build=torch_has_gpu_support())


# What a forkserver imports once, before it forks any child. Whichever call starts the
# server first decides, so the tool registers its modules (add_forkserver_preload) when
# it is imported, before any child starts, and every call asks for the same list.
_FORKSERVER_PRELOAD = ["torch"]


def add_forkserver_preload(*modules: str) -> None:
    """Have the forkserver import `modules` (e.g. the compile stack) for every child."""
    _FORKSERVER_PRELOAD.extend(m for m in modules if m not in _FORKSERVER_PRELOAD)


def process_context(method: str) -> BaseContext:
    """The multiprocessing context for `method`."""
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(list(_FORKSERVER_PRELOAD))  # type: ignore[attr-defined]
    return context


def _send_outcome(fn: Callable[[], object], conn: Connection) -> None:
    try:
        outcome: tuple[bool, object] = (True, fn())
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        outcome = (False, str(exc) or type(exc).__name__)
    try:
        conn.send(outcome)
    finally:
        conn.close()


def call_in_child(
    fn: Callable[[], object], *, start_method: str, timeout_s: float = 120.0
) -> tuple[bool, object]:
    """(True, what `fn` returned) or (False, why it failed), from a child process.

    With forkserver or spawn, `fn` and its result must pickle.
    """
    context = process_context(start_method)
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_send_outcome, args=(fn, send))  # type: ignore[attr-defined]
    process.start()
    send.close()
    try:
        if not receive.poll(timeout_s):
            process.kill()
            process.join()
            return False, f"still running after {timeout_s:g} s"
        outcome: tuple[bool, object] = receive.recv()
    except EOFError:  # the child died without sending
        process.join()
        code = process.exitcode or 0
        return False, (f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}")
    finally:
        receive.close()
    process.join()
    return outcome
