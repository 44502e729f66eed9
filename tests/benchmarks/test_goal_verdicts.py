"""Goal verdicts follow the point estimate against each bound of the threshold, CI or not.

Every estimate here has a CI of non-zero width, so a verdict read from a bound of the CI
instead of the point disagrees with the expected one on at least one case.
"""

import pytest
from support.synthetic_reports import benchmark, environment

from benchmarks.goals import GOALS, evaluate_goal
from reporting.schema.benchmark import Comparison, GoalStatus
from reporting.schema.measures import Interval
from reporting.schema.vocabulary import CompileMode

MET, MISSED = GoalStatus.MET, GoalStatus.MISSED
STRADDLES = "the CI straddles the threshold"


def _goal(name):
    return next(goal for goal in GOALS if goal.goal == name)


def _speedup_verdict(point, low, high):
    """The CPU CNN inference goal (>= 2x) on one result with this speedup and CI."""
    result = benchmark("cnn-small/infer/bare", point=point, low=low, high=high)
    return evaluate_goal(_goal("cpu.cnn.infer.speedup"), [result], [], environment())


def _comparison_verdict(goal, name, group, point, low, high):
    comparison = Comparison(
        name=name,
        group=group,
        mode=CompileMode.DEFAULT,
        description="",
        estimate=Interval(point=point, low=low, high=high),
    )
    return evaluate_goal(_goal(goal), [], [comparison], environment())


def _dormant_verdict(point, low, high):
    """The CNN inference dormant-vs-bare goal: a time ratio within 3 % of 1."""
    return _comparison_verdict(
        "cpu.cnn-small.infer.dormant-vs-bare",
        "dormant-vs-bare",
        "cnn-small/infer",
        point,
        low,
        high,
    )


def _seed_cost_verdict(point, low, high):
    """The CNN seed-training-cost goal: at most 1.0."""
    return _comparison_verdict(
        "cpu.cnn-small.train.seed-training-cost",
        "seed-training-overhead",
        "cnn-small/train",
        point,
        low,
        high,
    )


@pytest.mark.parametrize(
    ("point", "low", "high", "status", "straddles"),
    [
        (2.30, 2.10, 2.50, MET, False),
        (2.05, 1.90, 2.20, MET, True),  # the low bound is under 2: the point decides
        (2.00, 1.90, 2.10, MET, True),  # on the threshold: at least 2 holds
        (2.10, 2.00, 2.20, MET, False),  # a CI from exactly 2 up is firm
        (1.90, 1.80, 2.00, MISSED, True),  # a CI reaching 2 is not
        (1.95, 1.80, 2.10, MISSED, True),  # the high bound is over 2: the point decides
        (1.70, 1.50, 1.90, MISSED, False),
    ],
)
def test_an_at_least_goal_reads_the_point_estimate(point, low, high, status, straddles):
    """>= 2x: met from 2.0 up, missed below, whatever the CI bounds say."""
    verdict = _speedup_verdict(point, low, high)
    assert verdict.status is status
    assert verdict.measured == Interval(point=point, low=low, high=high)
    assert (STRADDLES in verdict.detail) is straddles
    assert verdict.detail.startswith(f"{point:.3f} (95% CI {low:.3f}-{high:.3f})")


@pytest.mark.parametrize(
    ("point", "low", "high", "status", "straddles"),
    [
        (1.00, 0.98, 1.02, MET, False),  # the CI inside the band
        (1.00, 0.97, 1.03, MET, False),  # the CI exactly the band: still inside
        (1.02, 1.00, 1.05, MET, True),  # the high bound past 1.03: the point decides
        (1.03, 1.01, 1.05, MET, True),  # on the upper bound of the band
        (1.04, 1.01, 1.07, MISSED, True),  # above the band, the low bound inside it
        (1.06, 1.04, 1.08, MISSED, None),  # wholly above: the straddle note is not pinned
        (0.98, 0.95, 1.00, MET, True),  # the low bound under 0.97: the point decides
        (0.97, 0.95, 0.99, MET, True),  # on the lower bound of the band
        (0.96, 0.93, 0.99, MISSED, True),  # below the band, the high bound inside it
        (0.94, 0.92, 0.96, MISSED, None),  # wholly below: likewise
    ],
)
def test_a_within_goal_checks_both_bounds_on_the_point(point, low, high, status, straddles):
    """Within 3 % of 1: met on [0.97, 1.03], missed on either side, read from the point."""
    verdict = _dormant_verdict(point, low, high)
    assert verdict.status is status
    if straddles is not None:
        assert (STRADDLES in verdict.detail) is straddles


@pytest.mark.parametrize(
    ("point", "low", "high", "status", "straddles"),
    [
        (0.80, 0.70, 0.90, MET, False),
        (0.95, 0.85, 1.05, MET, True),  # the high bound over 1: the point decides
        (1.00, 0.90, 1.10, MET, True),  # on the threshold: at most 1 holds
        (0.90, 0.80, 1.00, MET, False),  # a CI up to exactly 1 is firm
        (1.10, 1.00, 1.20, MISSED, True),  # a CI reaching down to 1 is not
        (1.05, 0.95, 1.15, MISSED, True),  # the low bound under 1: the point decides
        (1.20, 1.10, 1.30, MISSED, False),
    ],
)
def test_an_at_most_goal_reads_the_point_estimate(point, low, high, status, straddles):
    """<= 1.0: met up to 1.0, missed above, whatever the CI bounds say."""
    verdict = _seed_cost_verdict(point, low, high)
    assert verdict.status is status
    assert (STRADDLES in verdict.detail) is straddles


def test_each_comparison_goal_reads_its_own_group():
    """With several groups measured, a goal takes the comparison of its group, in any order."""
    comparisons = [
        Comparison(
            name="dormant-vs-bare",
            group=group,
            mode=CompileMode.DEFAULT,
            description="",
            estimate=Interval(point=point, low=point - 0.01, high=point + 0.01),
        )
        for group, point in (("transformer-small/infer", 1.10), ("cnn-small/infer", 1.00))
    ]
    cnn = evaluate_goal(
        _goal("cpu.cnn-small.infer.dormant-vs-bare"), [], comparisons, environment()
    )
    assert cnn.status is MET and cnn.measured.point == 1.00
