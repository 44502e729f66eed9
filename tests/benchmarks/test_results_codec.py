"""The benchmark results codec on generated results, NaN and infinities included."""

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.result_strategies import ANY_FLOAT, results_of, same
from support.synthetic_reports import benchmark, environment, target, with_audit_benchmark

from foundation.codec import from_jsonable, to_jsonable
from reporting.schema.audit import TargetResult
from reporting.schema.benchmark import (
    BenchmarkResult,
    BenchmarkRun,
    ModeTiming,
    RoundsRecord,
)
from reporting.schema.benchmark_settings import (
    MeasureConfig,
    OptimizerStep,
    RunConfig,
    SdpaKernel,
    WorkloadOptions,
)
from reporting.schema.measures import ClockReading, Interval, PeakMemory, Summary
from reporting.schema.report import RunReport, report_from_json, report_to_json
from reporting.schema.vocabulary import CompileMode

FINITE = st.floats(allow_nan=False, allow_infinity=False)


def benchmark_results(floats=ANY_FLOAT):
    """BenchmarkResults whose float fields come from `floats`, within what the types accept."""
    ordered = st.floats(allow_nan=False, allow_infinity=floats is ANY_FLOAT)

    def sorted_floats(count):
        return st.lists(ordered, min_size=count, max_size=count).map(sorted)

    @st.composite
    def intervals(draw):
        low, high = draw(sorted_floats(2))
        confidence = draw(st.floats(0.01, 0.99))
        return Interval(point=draw(floats), low=low, high=high, confidence=confidence)

    @st.composite
    def timings(draw):
        q1, median, q3 = draw(sorted_floats(3))
        summary = Summary(n=draw(st.integers(1, 4)), median=median, q1=q1, q3=q3)
        timing = st.builds(
            ModeTiming,
            mode=st.sampled_from(CompileMode),
            per_call_s=st.lists(floats, min_size=summary.n, max_size=summary.n).map(tuple),
            summary=st.just(summary),
            iters_per_block=st.integers(),
            warmup_blocks=st.integers(),
            steady=st.booleans(),
            first_call_s=floats,
        )
        return draw(timing)

    def workload_options(frozen):
        # weight_prepack=False is refused without freezing
        return st.builds(
            WorkloadOptions,
            pad_vocab=st.booleans(),
            optimizer=st.sampled_from(OptimizerStep),
            tf32=st.booleans(),
            pure_bf16=st.booleans(),
            sdpa=st.sampled_from(SdpaKernel),
            freezing=st.just(frozen),
            weight_prepack=st.booleans() if frozen else st.just(True),
        )

    bytes_count = st.integers(min_value=0)
    overrides = {
        (BenchmarkResult, "options"): st.booleans().flatmap(workload_options),
        # A reading is a positive frequency (NaN passes the check and must round-trip too).
        (ClockReading, "cpu_mhz"): st.lists(floats.filter(lambda v: not v <= 0), max_size=3).map(
            tuple
        ),
        (RoundsRecord, "orders"): st.lists(
            st.lists(st.text(max_size=4), max_size=3).map(tuple), min_size=1, max_size=3
        ).map(tuple),
        float: floats,
        Interval: intervals(),
        (PeakMemory, "peak_bytes"): bytes_count,
        (PeakMemory, "baseline_bytes"): bytes_count,
        (BenchmarkResult, "items_per_call"): st.integers(min_value=1),
        # Both timings always: BenchmarkResult refuses a result with neither error nor timings.
        (BenchmarkResult, "eager"): timings(),
        (BenchmarkResult, "compiled"): timings(),
    }
    return results_of(BenchmarkResult, overrides)


RESULTS = benchmark_results()
ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@ROUND_TRIP
@given(RESULTS)
def test_every_benchmark_result_survives_its_codec(result):
    """to_jsonable then from_jsonable gives back the same result, NaN and infinities included."""
    assert same(from_jsonable(BenchmarkResult, to_jsonable(result)), result)


@pytest.mark.slow
@ROUND_TRIP
@given(st.lists(RESULTS, max_size=2))
def test_a_benchmark_run_round_trips_through_the_report(results):
    """report.json is strict JSON, and a run comes back equal, NaN and infinities included."""
    run = BenchmarkRun(
        config=RunConfig(measure=MeasureConfig(), workloads=("cnn-*",)),
        results=tuple(results),
        comparisons=(),
        goals=(),
        wall_s=1.0,
    )
    text = report_to_json(RunReport(environment=environment(), benchmarks=run))
    json.loads(text, parse_constant=_refuse)  # strict JSON: no NaN or Infinity literal
    assert same(report_from_json(text).benchmarks, run)


def _refuse(literal):
    raise AssertionError(f"{literal} is not JSON")


def _stored_and_read_back(result):
    """A host target carries `result` in an audit report; the report reads it back."""
    stored = with_audit_benchmark(target("host/cnn"), result)
    text = json.dumps(to_jsonable(stored), allow_nan=False)
    return from_jsonable(TargetResult, json.loads(text)).benchmarks[0]


@pytest.mark.slow
@ROUND_TRIP
@given(benchmark_results(FINITE))
def test_a_finite_result_stored_in_an_audit_report_reads_back(result):
    """A host target's benchmark result comes back as the audit measured it."""
    assert same(_stored_and_read_back(result), result)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_figure_stored_in_an_audit_report_reads_back(value):
    """A NaN or infinite figure in a host target's benchmark result survives the report."""
    result = dataclasses.replace(benchmark(), mfu_compiled=value)
    assert same(_stored_and_read_back(result), result)
