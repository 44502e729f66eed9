"""Regression rules on synthetic results: breaks, recompiles, parity, speed, environments."""

import dataclasses

import pytest
from support.synthetic_reports import (
    benchmark,
    breaks,
    environment,
    exceptions,
    graph_break,
    parity,
    recompiles,
    report,
    target,
    with_audit_benchmark,
)

from reporting.regressions import RegressionKind, compare_reports, speedup_regressed
from reporting.schema.audit import CheckName, CheckStatus, ErrorInfo, FullgraphResult, TargetStatus


def _kinds(result):
    return [(f.target, f.kind) for f in result.regressions]


def test_identical_runs_have_no_regression():
    """A run compared with itself is clean, with every target and speedup compared."""
    run = report(target("a"), target("b"), speedups=(benchmark(),))
    result = compare_reports(run, run)
    assert not result.regressed
    assert (result.targets_compared, result.speedups_compared) == (2, 1)
    assert result.timings_compared


def test_a_new_graph_break_is_a_regression():
    """A break that the baseline did not have is flagged with its type and location."""
    base = report(target("host/cnn"))
    new = report(target("host/cnn", breaks=breaks(graph_break())))
    result = compare_reports(base, new)
    assert _kinds(result) == [("host/cnn", RegressionKind.GRAPH_BREAK)] * 2
    assert any("esper/kasmina/slot.py:12" in f.detail for f in result.regressions)


def test_a_known_break_that_moved_lines_is_not_new():
    """Breaks match by type, file, function and source, not line: an edit above one is not new."""
    base = report(target("t", breaks=breaks(graph_break(line=12))))
    new = report(target("t", breaks=breaks(graph_break(line=40))))
    assert not compare_reports(base, new).regressed


def test_a_different_break_at_the_same_count_is_new():
    """Swapping one break for another keeps the count but is still a new break."""
    base = report(target("t", breaks=breaks(graph_break(gb_type="Unsupported builtin"))))
    new = report(target("t", breaks=breaks(graph_break())))
    assert _kinds(compare_reports(base, new)) == [("t", RegressionKind.GRAPH_BREAK)]


def test_losing_fullgraph_is_a_new_break():
    """fullgraph=True passing before and failing now is reported as a graph break regression."""
    failed = FullgraphResult(
        status=CheckStatus.FAILED, error_type="Unsupported", graph_break=graph_break()
    )
    result = compare_reports(report(target("t")), report(target("t", fullgraph=failed)))
    assert _kinds(result) == [("t", RegressionKind.GRAPH_BREAK)]
    assert "fullgraph=True" in result.regressions[0].detail


def test_growth_in_recompiles_is_a_regression_with_its_guard():
    """More compilations than the baseline are flagged, naming the failed guard."""
    base = report(target("t", recompiles=recompiles(1)))
    new = report(target("t", recompiles=recompiles(3, guard="___check_obj_id(self.alpha)")))
    result = compare_reports(base, new)
    assert _kinds(result) == [("t", RegressionKind.RECOMPILES)]
    assert "1 -> 3" in result.regressions[0].detail and "self.alpha" in result.regressions[0].detail


def test_fewer_recompiles_is_not_a_regression():
    """Improvements never fail the gate."""
    base = report(target("t", recompiles=recompiles(3, budget=4)))
    new = report(target("t", recompiles=recompiles(1, budget=4)))
    assert not compare_reports(base, new).regressed


def _limit_hit(hit: bool, silent: bool = False):
    """The same compile counts each time: only the limit flag differs."""
    return dataclasses.replace(recompiles(2, budget=4), limit_hit=hit, silent_fallback=silent)


@pytest.mark.parametrize("silent", [False, True])
def test_hitting_the_recompile_limit_anew_is_a_regression(silent):
    """Same compile counts, but the limit is now hit: a recompile regression naming the limit."""
    base = report(target("t", recompiles=_limit_hit(False)))
    new = report(target("t", recompiles=_limit_hit(True, silent)))
    result = compare_reports(base, new)
    assert _kinds(result) == [("t", RegressionKind.RECOMPILES)]
    detail = result.regressions[0].detail
    assert "recompile_limit 8 now hit" in detail
    assert ("frames now run eagerly" in detail) is silent


def test_a_recompile_limit_already_hit_in_the_baseline_is_not_new():
    """A limit hit on both sides is a known state, not a regression; nor is no longer hitting it."""
    hit, clear = _limit_hit(True), _limit_hit(False)
    assert not compare_reports(
        report(target("t", recompiles=hit)), report(target("t", recompiles=hit))
    ).regressed
    assert not compare_reports(
        report(target("t", recompiles=hit)), report(target("t", recompiles=clear))
    ).regressed


def test_parity_and_exception_parity_regressions_are_flagged():
    """A parity mode or a bad-input case that matched eager and no longer does is a regression."""
    base = report(target("t"))
    new = report(
        target(
            "t", parity=parity(passed=False, max_abs=0.5), exceptions=exceptions(type_matches=False)
        )
    )
    result = compare_reports(base, new)
    assert _kinds(result) == [("t", RegressionKind.PARITY), ("t", RegressionKind.EXCEPTION_PARITY)]
    assert "TorchRuntimeError" in result.regressions[1].detail


def test_a_target_that_now_crashes_is_a_status_regression():
    """passed -> crashed is flagged, with the error."""
    crashed = target(
        "t",
        status=TargetStatus.CRASHED,
        error=ErrorInfo(type="Crash", message="SIGSEGV"),
        fullgraph=None,
        breaks=None,
        recompiles=None,
        parity=None,
        exceptions=None,
    )
    result = compare_reports(report(target("t")), report(crashed))
    assert _kinds(result) == [("t", RegressionKind.STATUS)]
    assert "crashed" in result.regressions[0].detail and "SIGSEGV" in result.regressions[0].detail


def test_informational_targets_are_shown_but_do_not_gate():
    """A report-only target's change is a finding, not a regression."""
    base = report(target("guard", informational=True))
    new = report(target("guard", informational=True, breaks=breaks(graph_break())))
    result = compare_reports(base, new)
    assert result.findings and not result.regressed


def test_a_hazard_is_compared_only_on_detection():
    """A hazard's own breaks are expected; losing a flag it should raise is the regression."""
    flagged = target("hazard", expected_flags=(CheckName.BREAKS,), breaks=breaks(graph_break()))
    more = dataclasses.replace(
        flagged, breaks=breaks(graph_break(), graph_break(gb_type="Unsupported builtin"))
    )
    missed = dataclasses.replace(flagged, status=TargetStatus.FAILED, breaks=breaks())
    assert not compare_reports(report(flagged), report(more)).regressed
    result = compare_reports(report(flagged), report(missed))
    assert _kinds(result) == [("hazard", RegressionKind.STATUS)]


def test_a_12_percent_drop_inside_noise_is_not_flagged():
    """2.00x -> 1.76x with overlapping wide CIs is noise, not a regression."""
    base = report(speedups=(benchmark(point=2.00, low=1.70, high=2.30),))
    new = report(speedups=(benchmark(point=1.76, low=1.50, high=2.05),))
    result = compare_reports(base, new)
    assert result.timings_compared and result.speedups_compared == 1
    assert not result.regressed


def test_a_12_percent_drop_outside_both_cis_is_flagged():
    """2.00x -> 1.76x with tight CIs that exclude each other's estimate is a regression."""
    base = report(speedups=(benchmark(point=2.00, low=1.95, high=2.05),))
    new = report(speedups=(benchmark(point=1.76, low=1.72, high=1.80),))
    result = compare_reports(base, new)
    assert _kinds(result) == [
        ("cnn-small/infer/bare [infer, default, fp32]", RegressionKind.SPEEDUP)
    ]
    assert "-12%" in result.regressions[0].detail


def test_a_significant_drop_within_the_threshold_is_not_flagged():
    """A 5 % drop, even far outside both CIs, is below the 10 % threshold."""
    base = report(speedups=(benchmark(point=2.00, low=1.99, high=2.01),))
    new = report(speedups=(benchmark(point=1.90, low=1.89, high=1.91),))
    assert not compare_reports(base, new).regressed
    assert compare_reports(base, new, threshold=0.04).regressed


@pytest.mark.parametrize(
    ("base_point", "base_low", "new_point", "new_high", "expected"),
    [
        (2.0, 1.9, 1.7, 1.8, True),  # 15 % drop, both estimates outside the other's CI
        (2.0, 1.6, 1.7, 1.8, False),  # new estimate inside the baseline's CI
        (2.0, 1.9, 1.7, 2.1, False),  # baseline estimate inside the new CI
        (2.0, 1.9, 1.85, 1.86, False),  # 7.5 % drop: under the threshold
    ],
)
def test_speedup_rule_needs_threshold_and_both_cis(
    base_point, base_low, new_point, new_high, expected
):
    """The speed rule: beyond the threshold and outside both confidence intervals."""
    assert speedup_regressed(base_point, base_low, new_point, new_high, 0.10) is expected


@pytest.mark.parametrize(
    ("new_env", "reason"),
    [
        (environment(device_kind="cuda"), "device kind cpu vs cuda"),
        (environment(torch_version="2.14.0"), "torch 2.13.0 vs 2.14.0"),
        (environment(cpu="Other CPU"), "device Test CPU vs Other CPU"),
    ],
)
def test_incomparable_environments_compare_compile_status_only(new_env, reason):
    """Another device kind, processor or torch: timings are skipped and said so, compile
    status still gates."""
    base = report(target("t"), speedups=(benchmark(point=2.0, low=1.95, high=2.05),))
    new = report(
        target("t", breaks=breaks(graph_break())),
        speedups=(benchmark(point=1.0, low=0.98, high=1.02),),
        env=new_env,
    )
    result = compare_reports(base, new)
    assert not result.timings_compared and reason in result.timings_reason
    assert result.speedups_compared == 0
    assert {f.kind for f in result.regressions} == {RegressionKind.GRAPH_BREAK}


def test_targets_on_one_side_only_are_noted_not_failed():
    """A target missing from the new run, or new in it, is a note rather than a regression."""
    result = compare_reports(report(target("a"), target("b")), report(target("a"), target("c")))
    assert not result.regressed
    assert any("not in this run: b" in n for n in result.notes)
    assert any("not in the baseline: c" in n for n in result.notes)


def test_threshold_must_be_a_fraction():
    """A threshold of 10 (meaning 10 %) is refused with the bad value."""
    with pytest.raises(ValueError, match="got 10"):
        compare_reports(report(), report(), threshold=10)


def test_speedups_carried_by_audit_targets_are_compared():
    """A host target's own benchmark result is gated like a benchmark run's."""
    fast = with_audit_benchmark(target("host/cnn"), benchmark("host/cnn", 2.0, 1.95, 2.05))
    slow = with_audit_benchmark(target("host/cnn"), benchmark("host/cnn", 1.5, 1.45, 1.55))
    result = compare_reports(report(fast), report(slow))
    assert [f.kind for f in result.regressions] == [RegressionKind.SPEEDUP]
    assert result.speedups_compared == 1


def test_speedups_missing_from_the_new_run_are_noted():
    """A run without benchmarks (--no-bench) is not a regression, and the report says so."""
    result = compare_reports(report(speedups=(benchmark(),)), report())
    assert not result.regressed
    assert any("1 baseline speedup(s) not measured" in n for n in result.notes)
