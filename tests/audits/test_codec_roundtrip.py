"""The audit report codec gives back every result it wrote, non-finite floats included."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.result_strategies import results_of, same

from audits.jsoncodec import from_jsonable, to_jsonable
from audits.results import (
    SCHEMA_VERSION,
    Mode,
    ModeParity,
    RunResult,
    TargetResult,
    TensorDiff,
)

# TargetResult.benchmarks holds what the benchmarks codec wrote; its own tests cover it.
OVERRIDES = {
    (TargetResult, "benchmarks"): st.just(()),
    (RunResult, "schema_version"): st.just(SCHEMA_VERSION),
}
ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _through_json(cls, value):
    """Encode, write strict JSON (no NaN literals), read back and decode."""
    text = json.dumps(to_jsonable(value), allow_nan=False)
    return from_jsonable(cls, json.loads(text))


@ROUND_TRIP
@given(results_of(TargetResult, OVERRIDES))
def test_every_target_result_survives_strict_json(result):
    """Any TargetResult, every check filled in, decodes to an equal one of the same types."""
    assert same(_through_json(TargetResult, result), result)


@ROUND_TRIP
@given(results_of(RunResult, OVERRIDES))
def test_every_run_result_survives_its_own_dict_form(run):
    """RunResult.to_dict / from_dict, the path audit.json takes, loses nothing."""
    text = json.dumps(run.to_dict(), allow_nan=False)
    assert same(RunResult.from_dict(json.loads(text)), run)


@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(allow_nan=False))
def test_non_finite_errors_come_back_as_floats(bad, fine):
    """An exploding parity error (NaN or an infinity) is a float again after the round trip."""
    diff = TensorDiff(name="output", max_abs=bad, max_rel=fine, atol=1e-5, rtol=1e-4, passed=False)
    mode = ModeParity(mode=Mode.TRAIN, dtype="float32", output=diff, fp64_compiled_max_abs=bad)
    back = _through_json(ModeParity, mode)
    assert isinstance(back.output.max_abs, float) and isinstance(back.fp64_compiled_max_abs, float)
    assert same(back.output, diff)
    assert same(back.fp64_compiled_max_abs, bad)
