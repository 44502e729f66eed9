"""Interleaving order, calibration and warm-up, driven by a scripted fake timer."""

import pytest

from benchmarks.interleave import (
    calibrate_iters,
    median_drift,
    round_orders,
    run_interleaved,
    warm_up,
)


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


def test_seeded_orders_are_random_permutations_and_replayable():
    """A seed draws a fresh permutation per round; the same seed replays the same plan."""
    names = ["a", "b", "c", "d"]
    orders = round_orders(names, 40, seed=7)
    assert all(sorted(order) == names for order in orders)
    assert orders == round_orders(names, 40, seed=7)
    assert orders != round_orders(names, 40, seed=8)
    assert len(set(orders)) > 4  # not a rotation, which has only len(names) distinct orders
    firsts = {order[0] for order in orders}
    assert firsts == set(names)


def test_run_interleaved_follows_the_given_orders_and_refuses_bad_ones():
    """Calls happen in the planned order; a plan that is not a permutation is refused."""
    calls = []
    steps = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    timer = ScriptedTimer(per_call=1.0)
    run_interleaved(steps, timer, rounds=2, iters={"a": 1, "b": 1}, orders=[("b", "a"), ("b", "a")])
    assert calls == ["b", "a", "b", "a"]
    with pytest.raises(ValueError, match="permutation"):
        run_interleaved(steps, timer, rounds=1, iters={"a": 1, "b": 1}, orders=[("a", "a")])
    with pytest.raises(ValueError, match="2 rounds"):
        run_interleaved(steps, timer, rounds=2, iters={"a": 1, "b": 1}, orders=[("a", "b")])


def test_median_drift_compares_the_last_window_with_the_one_before():
    """Medians 1.0 then 1.1: a 10 % move; fewer than two windows: None."""
    assert median_drift([1.0, 9.0, 1.0, 1.1, 1.1, 0.2], window=3) == pytest.approx(0.1)
    assert median_drift([1.0, 1.0], window=3) is None


def test_warm_up_stops_once_the_median_settles():
    """Falling times then a plateau: stops when two windows' medians agree within 2 %."""
    timer = ScriptedTimer(seconds=[5.0, 2.0, 1.0, 1.01, 1.0, 1.0, 9.0])
    outcome = warm_up(lambda: None, timer, iters=1, window=2, max_blocks=7)
    assert outcome.steady
    # after 5 blocks the windows [2.0, 1.0] and [1.01, 1.0] differ; after 6,
    # [1.0, 1.01] and [1.0, 1.0] agree within 2 %
    assert outcome.blocks == 6
    assert outcome.drift == pytest.approx(1 - 1.0 / 1.005)


def test_warm_up_is_not_fooled_by_one_outlier_block():
    """A single slow block in a settled window leaves the median, so warm-up still ends."""
    timer = ScriptedTimer(seconds=[1.0, 1.0, 1.0, 1.0, 5.0, 1.0])
    outcome = warm_up(lambda: None, timer, iters=1, window=3, max_blocks=6)
    assert outcome.steady and outcome.blocks == 6


def test_warm_up_keeps_going_while_the_clock_ramps_and_reports_it():
    """Times falling 5 % per block never settle at 2 %: max_blocks, steady False, drift kept."""
    timer = ScriptedTimer(seconds=[0.95**i for i in range(8)])
    outcome = warm_up(lambda: None, timer, iters=1, window=2, max_blocks=8)
    assert not outcome.steady
    assert outcome.blocks == 8
    assert outcome.drift == pytest.approx(1 - 0.95**2)
