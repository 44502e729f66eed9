"""Interleaving order, calibration and warm-up, driven by a scripted fake timer."""

import pytest

from benchmarks.interleave import calibrate_iters, round_orders, run_interleaved, warm_up


class ScriptedTimer:
    """Runs the block for real (to record the call order) and returns scripted seconds."""

    name = "scripted"

    def __init__(self, seconds=None, per_call=None):
        self.seconds = list(seconds or [])
        self.per_call = per_call
        self.blocks = []

    def time_block(self, fn, iters):
        for _ in range(iters):
            fn()
        self.blocks.append(iters)
        if self.per_call is not None:
            return self.per_call * iters
        return self.seconds.pop(0)


def test_two_candidates_alternate_who_goes_first():
    """With eager and compiled, rounds go AB, BA, AB, ..."""
    assert round_orders(["eager", "compiled"], 4) == [
        ("eager", "compiled"),
        ("compiled", "eager"),
        ("eager", "compiled"),
        ("compiled", "eager"),
    ]


def test_every_candidate_takes_every_position_over_n_rounds():
    """Rotation: over len(names) rounds each candidate is in each position exactly once."""
    names = ["a", "b", "c", "d"]
    orders = round_orders(names, 4)
    for order in orders:
        assert sorted(order) == names
    for position in range(4):
        assert sorted(order[position] for order in orders) == names


def test_round_orders_refuse_duplicate_names_and_zero_rounds():
    """Names identify series, and a run has at least one round."""
    with pytest.raises(ValueError, match="unique"):
        round_orders(["a", "a"], 2)
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        round_orders(["a"], 0)


def test_run_interleaved_runs_blocks_in_round_order_and_divides_by_iters():
    """Calls follow the rotation, and each sample is block time / iters."""
    calls = []
    timer = ScriptedTimer(per_call=0.5)
    per_call = run_interleaved(
        {"eager": lambda: calls.append("eager"), "compiled": lambda: calls.append("compiled")},
        timer,
        rounds=2,
        iters={"eager": 1, "compiled": 2},
    )
    assert calls == ["eager", "compiled", "compiled", "compiled", "compiled", "eager"]
    assert per_call == {"eager": [0.5, 0.5], "compiled": [0.5, 0.5]}


def test_run_interleaved_needs_an_iteration_count_per_candidate():
    """A candidate without a block size is a planning error, named in the message."""
    with pytest.raises(ValueError, match="compiled"):
        run_interleaved(
            {"eager": lambda: None, "compiled": lambda: None},
            ScriptedTimer(),
            rounds=1,
            iters={"eager": 1},
        )


def test_calibration_doubles_until_a_block_is_long_enough():
    """10 ms per call and a 70 ms floor: 1, 2, 4 are too short, 8 calls suffice."""
    timer = ScriptedTimer(per_call=0.010)
    assert calibrate_iters(lambda: None, timer, min_block_s=0.070) == 8
    assert timer.blocks == [1, 2, 4, 8]


def test_warm_up_stops_once_the_last_blocks_agree():
    """Falling block times then a plateau: warm-up ends on the third plateau block."""
    timer = ScriptedTimer(seconds=[5.0, 2.0, 1.0, 1.01, 1.02, 9.0])
    outcome = warm_up(lambda: None, timer, iters=1, max_blocks=6)
    assert outcome.steady
    assert outcome.blocks == 5


def test_warm_up_reports_when_it_never_became_steady():
    """Times that keep moving end at max_blocks with steady=False, not silently."""
    timer = ScriptedTimer(seconds=[1.0, 2.0, 1.0, 2.0])
    outcome = warm_up(lambda: None, timer, iters=1, max_blocks=4)
    assert not outcome.steady
    assert outcome.blocks == 4
