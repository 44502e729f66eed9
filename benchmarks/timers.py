"""Timing blocks of iterations, with one synchronization per block and never one per op.

A :class:`Timer` returns the seconds ``iters`` calls of ``fn`` took. On CPU that is a
monotonic wall clock. CUDA work is asynchronous, so two CUDA events bracket the block and
the host waits once, on the end event: the launches inside overlap freely, as in a real
training loop. The CUDA timer takes its event and synchronize functions as arguments, so
its protocol (two events, one wait) is unit-tested on CPU with fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Timer(Protocol):
    """Times a block of calls; implementations differ in how they wait for the device."""

    name: str

    def time_block(self, fn: Callable[[], Any], iters: int) -> float:
        """Seconds taken by ``iters`` consecutive calls of ``fn``."""
        ...


def _check_iters(iters: int) -> None:
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")


class WallClockTimer:
    """perf_counter around the block; right for CPU work, which is synchronous."""

    name = "wall-clock"

    def time_block(self, fn: Callable[[], Any], iters: int) -> float:
        _check_iters(iters)
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        return time.perf_counter() - start


class CudaEventTimer:
    """Two CUDA events around the block and one wait on the end event; the device is
    synchronized once before, so work queued by an earlier block is not billed to this one."""

    name = "cuda-event"

    def __init__(
        self,
        event_factory: Callable[..., Any] | None = None,
        synchronize: Callable[[], None] | None = None,
    ) -> None:
        self._event_factory = event_factory or torch.cuda.Event
        self._synchronize = synchronize or torch.cuda.synchronize

    def time_block(self, fn: Callable[[], Any], iters: int) -> float:
        _check_iters(iters)
        start = self._event_factory(enable_timing=True)
        end = self._event_factory(enable_timing=True)
        self._synchronize()
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / 1000.0  # elapsed_time is in milliseconds


def timer_for(device: torch.device | str) -> Timer:
    """The timer that measures work on ``device`` correctly."""
    kind = torch.device(device).type
    if kind == "cuda":
        return CudaEventTimer()
    if kind == "cpu":
        return WallClockTimer()
    raise ValueError(f"no timer for device type {kind!r}; expected 'cpu' or 'cuda'")


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on ``device``; a no-op on CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def synchronized_clock() -> float:
    """A perf_counter that first drains CUDA work: pytest-benchmark's timer for the suite,
    read before and after each block of loops, so the sync never happens inside the loop."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()
