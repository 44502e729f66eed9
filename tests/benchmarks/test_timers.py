"""Timers: the wall clock on CPU, and the CUDA-event protocol (fakes on CPU, real on CUDA)."""

import pytest
import torch

from benchmarks.timers import CudaEventTimer, Timer, WallClockTimer, synchronized_clock, timer_for


class FakeEvent:
    log = []

    def __init__(self, enable_timing):
        assert enable_timing
        self.index = len([entry for entry in FakeEvent.log if entry[0] == "new"])
        FakeEvent.log.append(("new", self.index))

    def record(self):
        FakeEvent.log.append(("record", self.index))

    def synchronize(self):
        FakeEvent.log.append(("wait", self.index))

    def elapsed_time(self, end):
        return 250.0  # milliseconds, as torch.cuda.Event reports


def test_wall_clock_timer_calls_the_function_iters_times():
    """A block of 5 runs the step 5 times and returns a non-negative duration."""
    calls = []
    seconds = WallClockTimer().time_block(lambda: calls.append(1), 5)
    assert len(calls) == 5
    assert seconds >= 0.0


def test_cuda_event_timer_waits_once_per_block_not_per_call():
    """Sync before, two events around the block, one wait on the end event; ms -> s."""
    FakeEvent.log = []
    syncs = []
    timer = CudaEventTimer(event_factory=FakeEvent, synchronize=lambda: syncs.append(1))
    calls = []
    seconds = timer.time_block(lambda: (calls.append(1), FakeEvent.log.append(("call", None))), 3)
    assert seconds == 0.25
    assert len(syncs) == 1
    assert len(calls) == 3
    assert FakeEvent.log == [
        ("new", 0),
        ("new", 1),
        ("record", 0),
        ("call", None),
        ("call", None),
        ("call", None),
        ("record", 1),
        ("wait", 1),
    ]


def test_both_timers_satisfy_the_timer_protocol():
    """The benchmark drives either through the same interface."""
    assert isinstance(WallClockTimer(), Timer)
    assert isinstance(CudaEventTimer(event_factory=FakeEvent, synchronize=lambda: None), Timer)


def test_timer_for_picks_by_device_and_refuses_others():
    """CPU gets the wall clock; an unknown device type is an error naming the valid ones."""
    assert isinstance(timer_for("cpu"), WallClockTimer)
    assert isinstance(timer_for("cuda"), CudaEventTimer)
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        timer_for("meta")


def test_a_block_needs_at_least_one_call():
    """Zero iterations would divide by zero later; refuse it up front."""
    with pytest.raises(ValueError, match="iters must be >= 1"):
        WallClockTimer().time_block(lambda: None, 0)


def test_synchronized_clock_is_monotonic():
    """pytest-benchmark's clock never runs backwards."""
    first = synchronized_clock()
    assert synchronized_clock() >= first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_event_timer_times_real_kernels():
    """On a GPU, a block of matmuls takes a positive, finite time."""
    a = torch.randn(512, 512, device="cuda")
    seconds = CudaEventTimer().time_block(lambda: a @ a, 10)
    assert 0.0 < seconds < 10.0
