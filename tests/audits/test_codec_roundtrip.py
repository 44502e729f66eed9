"""The audit report codec gives back every result it wrote, non-finite floats included."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.result_strategies import results_of, same
from support.synthetic_reports import environment

from foundation.codec import from_jsonable, to_jsonable
from reporting.schema.audit import (
    BACKENDS,
    AuditConfig,
    AuditRun,
    FailOn,
    ModeParity,
    TargetResult,
    TensorDiff,
)
from reporting.schema.report import RunReport, report_from_json, report_to_json
from reporting.schema.vocabulary import Precision, Task

# TargetResult.benchmarks holds BenchmarkResults: tests/benchmarks/test_results_codec.py
# generates those (with the constraints their types check) and stores them in targets.
OVERRIDES = {(TargetResult, "benchmarks"): st.just(())}
# The settings record checks its values; any valid one will do, the targets vary.
RUN_OVERRIDES = {
    **OVERRIDES,
    (AuditRun, "config"): st.builds(
        AuditConfig,
        backend=st.sampled_from(BACKENDS),
        dtype=st.sampled_from(Precision),
        fail_on=st.lists(st.sampled_from(FailOn), unique=True).map(tuple),
        jobs=st.integers(1, 64),
        threads_per_job=st.integers(1, 64),
        target_globs=st.lists(st.text(max_size=8), max_size=2).map(tuple),
    ),
}
# Tens of examples, seconds each: the default run has them, the fast loop does not.
ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _through_json(cls, value):
    """Encode, write strict JSON (no NaN literals), read back and decode."""
    text = json.dumps(to_jsonable(value), allow_nan=False)
    return from_jsonable(cls, json.loads(text))


@pytest.mark.slow
@ROUND_TRIP
@given(results_of(TargetResult, OVERRIDES))
def test_every_target_result_survives_strict_json(result):
    """Any TargetResult, every check filled in, decodes to an equal one of the same types."""
    assert same(_through_json(TargetResult, result), result)


@pytest.mark.slow
@ROUND_TRIP
@given(results_of(AuditRun, RUN_OVERRIDES))
def test_every_audit_run_survives_the_report(run):
    """An AuditRun written into report.json and read back loses nothing."""
    text = report_to_json(RunReport(environment=environment(), audit=run))
    assert same(report_from_json(text).audit, run)


@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(allow_nan=False))
def test_non_finite_errors_come_back_as_floats(bad, fine):
    """An exploding parity error (NaN or an infinity) is a float again after the round trip."""
    diff = TensorDiff(name="output", max_abs=bad, max_rel=fine, atol=1e-5, rtol=1e-4, passed=False)
    mode = ModeParity(mode=Task.TRAIN, dtype=Precision.FP32, output=diff, fp64_compiled_max_abs=bad)
    back = _through_json(ModeParity, mode)
    assert isinstance(back.output.max_abs, float) and isinstance(back.fp64_compiled_max_abs, float)
    assert same(back.output, diff)
    assert same(back.fp64_compiled_max_abs, bad)
