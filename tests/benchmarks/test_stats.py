"""Statistics of interleaved rounds, checked on synthetic samples with known answers."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.stats import (
    geomean,
    paired_bootstrap,
    per_round_ratios,
    speedup_interval,
    summarize,
)
from reporting.schema.measures import Interval


def test_summarize_gives_median_and_quartiles_of_known_samples():
    """Median and linear-interpolation quartiles of 1..5 are 3, 2 and 4."""
    summary = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (summary.n, summary.median, summary.q1, summary.q3) == (5, 3.0, 2.0, 4.0)
    assert summary.iqr == 2.0


def test_constant_ratio_collapses_the_interval_to_that_ratio():
    """When every round is exactly 2x faster compiled, the whole CI is 2."""
    rng = np.random.default_rng(1)
    eager = rng.uniform(0.01, 0.05, size=25)  # drift across rounds, same factor each round
    compiled = eager / 2.0
    interval = speedup_interval(eager, compiled)
    assert interval.point == pytest.approx(2.0)
    assert interval.low == pytest.approx(2.0)
    assert interval.high == pytest.approx(2.0)


def test_known_shift_is_recovered_and_excludes_no_speedup():
    """Eager ~10 ms and compiled ~5 ms with small noise: the CI holds 2 and excludes 1."""
    rng = np.random.default_rng(7)
    eager = 0.010 + rng.normal(0.0, 0.0002, size=40)
    compiled = 0.005 + rng.normal(0.0, 0.0002, size=40)
    interval = speedup_interval(eager, compiled)
    assert interval.contains(2.0)
    assert not interval.contains(1.0)
    assert 1.8 < interval.low <= interval.point <= interval.high < 2.2


def test_paired_bootstrap_cancels_drift_shared_by_both_series():
    """Drift that hits both modes in a round widens nothing: the pairing removes it."""
    drift = np.linspace(1.0, 3.0, 30)  # the machine slows down threefold over the run
    interval = speedup_interval(0.01 * drift, 0.004 * drift)
    assert interval.point == pytest.approx(2.5)
    assert interval.high - interval.low < 0.2


def test_bootstrap_is_reproducible_for_a_seed():
    """The same seed gives the same interval; the seed is part of the result."""
    rng = np.random.default_rng(3)
    eager, compiled = rng.uniform(1, 2, 20), rng.uniform(1, 2, 20)
    assert speedup_interval(eager, compiled, seed=5) == speedup_interval(eager, compiled, seed=5)


def test_per_round_ratios_divide_baseline_by_candidate():
    """Round i's ratio is baseline[i] / candidate[i]."""
    assert per_round_ratios([2.0, 3.0, 9.0], [1.0, 1.5, 3.0]) == (2.0, 2.0, 3.0)


def test_unpaired_samples_are_refused():
    """Series of different lengths cannot be paired by round."""
    with pytest.raises(ValueError, match="equal lengths"):
        speedup_interval([1.0, 2.0], [1.0])


def test_non_finite_samples_are_refused():
    """A NaN timing is a bug upstream, not a sample."""
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, math.nan])


def test_interval_rejects_reversed_bounds():
    """An interval's low bound cannot exceed its high bound."""
    with pytest.raises(ValueError, match="out of order"):
        Interval(point=1.0, low=2.0, high=1.0)


def test_geomean_of_two_and_eight_is_four():
    """Geometric mean, the summary of speedups across workloads."""
    assert geomean([2.0, 8.0]) == pytest.approx(4.0)


def test_paired_bootstrap_applies_a_custom_statistic_to_every_series():
    """A difference-of-medians statistic on constant series has a zero-width CI."""
    interval = paired_bootstrap(
        {"a": [3.0] * 10, "b": [1.0] * 10},
        lambda s: float(np.median(s["a"]) - np.median(s["b"])),
        resamples=50,
    )
    assert (interval.low, interval.point, interval.high) == (2.0, 2.0, 2.0)


@settings(max_examples=30, deadline=None)
@given(
    samples=st.lists(st.floats(0.001, 1.0), min_size=3, max_size=30),
    scale=st.floats(0.1, 10.0),
    factor=st.floats(0.25, 4.0),
)
def test_speedup_ignores_units_and_tracks_the_factor(samples, scale, factor):
    """Rescaling both series leaves the speedup unchanged; dividing one by f gives f."""
    eager = np.asarray(samples) * scale
    interval = speedup_interval(eager, eager / factor, resamples=50)
    assert interval.point == pytest.approx(factor, rel=1e-9)
    assert interval.low == pytest.approx(factor, rel=1e-9)
    assert interval.high == pytest.approx(factor, rel=1e-9)


def _estimates_in_turn(point: float, estimates: list[float]):
    """A statistic that returns `point` on its first call, then each of `estimates` in turn.

    paired_bootstrap calls it once on the data and then once per resample, so the bootstrap
    distribution is exactly `estimates`, whatever rounds the generator draws.
    """
    values = iter([point, *estimates])
    return lambda _series: next(values)


def test_the_default_interval_is_the_central_95_percent_of_the_estimates():
    """Estimates 0..1999: the default CI is their 2.5th-97.5th percentiles, not 5th-95th."""
    statistic = _estimates_in_turn(1000.0, [float(i) for i in range(2000)])
    interval = paired_bootstrap({"a": [1.0, 2.0, 3.0]}, statistic)
    assert interval.confidence == 0.95
    # Linear interpolation between order statistics: 0.025 * 1999 and 0.975 * 1999.
    assert (interval.low, interval.point, interval.high) == pytest.approx(
        (49.975, 1000.0, 1949.025)
    )


def test_a_90_percent_interval_cuts_5_percent_from_each_tail():
    """The same estimates at confidence 0.90 give the 5th and 95th percentiles."""
    statistic = _estimates_in_turn(1000.0, [float(i) for i in range(2000)])
    interval = paired_bootstrap({"a": [1.0, 2.0, 3.0]}, statistic, confidence=0.90)
    assert (interval.low, interval.high) == pytest.approx((99.95, 1899.05))
    assert interval.confidence == 0.90


def test_speedup_interval_defaults_to_95_percent():
    """On noisy rounds, where 90 % and 95 % bounds differ, the default is the 95 % interval."""
    rng = np.random.default_rng(11)
    eager = 0.010 + rng.normal(0.0, 0.001, size=30)
    compiled = 0.005 + rng.normal(0.0, 0.001, size=30)
    default = speedup_interval(eager, compiled)
    at_90 = speedup_interval(eager, compiled, confidence=0.90)
    assert default == speedup_interval(eager, compiled, confidence=0.95)
    assert default.low < at_90.low and at_90.high < default.high
    assert default.confidence == 0.95


def test_a_50_percent_interval_is_the_interquartile_range_of_the_estimates():
    """At confidence 0.5 the tails are 25 % each (1 - c, not 1 modulo c, which is 0 here)."""
    statistic = _estimates_in_turn(1000.0, [float(i) for i in range(2000)])
    interval = paired_bootstrap({"a": [1.0, 2.0, 3.0]}, statistic, confidence=0.5)
    assert (interval.low, interval.high) == pytest.approx((499.75, 1499.25))


def test_geomean_refuses_zero_and_negative_values():
    for values in ([0.0, 4.0], [-1.0, 4.0]):
        with pytest.raises(ValueError, match="positive"):
            geomean(values)


def test_resampling_draws_every_round_equally_often():
    """Each resample draws rounds uniformly from all of them: the bootstrap means of a
    series with a single 1 among nine 0s centre on 0.1 (a draw that could also land on
    another index, or miss the first round, would shift them)."""
    seen = []

    def mean(series):
        seen.append(float(np.mean(series["a"])))
        return seen[-1]

    paired_bootstrap({"a": [1.0] + [0.0] * 9}, mean, resamples=4000)
    assert np.mean(seen[1:]) == pytest.approx(0.1, abs=0.01)
    paired_bootstrap({"a": [0.0] * 9 + [1.0]}, mean, resamples=4000)
    assert np.mean(seen[4002:]) == pytest.approx(0.1, abs=0.01)


def test_empty_samples_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        summarize([])
    with pytest.raises(ValueError, match="non-empty"):
        paired_bootstrap({"a": []}, lambda s: 0.0)


@pytest.mark.parametrize("candidate", [0.0, -0.5])
def test_a_candidate_time_of_zero_or_less_is_refused(candidate):
    with pytest.raises(ValueError, match="positive"):
        per_round_ratios([1.0, 1.0], [1.0, candidate])


def test_one_resample_is_the_least_the_bootstrap_takes():
    interval = paired_bootstrap({"a": [1.0, 2.0]}, lambda s: float(np.mean(s["a"])), resamples=1)
    assert interval.point == 1.5
    with pytest.raises(ValueError, match="resamples must be >= 1"):
        paired_bootstrap({"a": [1.0, 2.0]}, lambda s: 0.0, resamples=0)


def test_the_bootstrap_settings_are_keyword_only():
    """confidence, resamples and seed cannot be passed by position, where they would be
    easy to swap; the series and the statistic can be passed by name."""
    with pytest.raises(TypeError):
        paired_bootstrap({"a": [1.0]}, lambda s: 0.0, 0.9)  # type: ignore[misc]
    interval = paired_bootstrap(samples={"a": [2.0]}, statistic=lambda s: float(s["a"][0]))
    assert interval.point == 2.0


def test_ratios_are_true_divisions():
    assert per_round_ratios([3.0, 1.0], [2.0, 4.0]) == (1.5, 0.25)


@pytest.mark.parametrize(
    "baseline, candidate", [([1.0], [1.0, 2.0]), ([1.0, 2.0], [1.0])], ids=["shorter", "longer"]
)
def test_per_round_ratios_refuse_series_of_different_lengths(baseline, candidate):
    with pytest.raises(ValueError, match="equal lengths"):
        per_round_ratios(baseline, candidate)


def test_paired_bootstrap_refuses_series_of_different_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap({"a": [1.0, 2.0], "b": [1.0]}, lambda s: 0.0)


@pytest.mark.parametrize("samples", [3.0, [[1.0, 2.0]]], ids=["scalar", "2-d"])
def test_samples_must_be_one_dimensional(samples):
    with pytest.raises(ValueError, match="1-d"):
        summarize(samples)


def test_geomean_takes_values_below_one():
    assert geomean([0.5, 2.0]) == pytest.approx(1.0)


def test_the_default_seed_is_zero():
    """Reports name no seed: the default is fixed, so a rerun gives the same CI."""
    rng = np.random.default_rng(3)
    eager, compiled = rng.uniform(1, 2, size=12), rng.uniform(1, 2, size=12)
    assert speedup_interval(eager, compiled) == speedup_interval(eager, compiled, seed=0)
    assert speedup_interval(eager, compiled) != speedup_interval(eager, compiled, seed=1)


def test_speedup_settings_are_keyword_only():
    with pytest.raises(TypeError):
        speedup_interval([1.0], [1.0], 0.9)  # type: ignore[misc]
