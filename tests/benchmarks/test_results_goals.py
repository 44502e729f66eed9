"""The versioned JSON of a run, and goal evaluation logic on synthetic results."""

import dataclasses
import json

import pytest

from benchmarks.goals import evaluate_goals
from benchmarks.stats import speedup_interval, summarize
from foundation.environment import EnvironmentRecord
from reporting.schema.benchmark import (
    BenchmarkResult,
    BenchmarkRun,
    Comparison,
    CompileTime,
    GoalStatus,
    ModeTiming,
)
from reporting.schema.benchmark_settings import MeasureConfig, RunConfig
from reporting.schema.measures import Interval, MemoryKind, PeakMemory
from reporting.schema.report import ReportFormatError, RunReport, report_from_json, report_to_json
from reporting.schema.vocabulary import CompileMode, Precision, Task


def _environment(device_kind="cpu", device_name="Test CPU"):
    return EnvironmentRecord(
        torch_version="2.13.0",
        python_version="3.11.0",
        platform="linux",
        device_kind=device_kind,
        device_name=device_name,
        cpu_model="Test CPU",
        cpu_count=2,
        threads=2,
        interop_threads=1,
        cuda_version=None,
        cuda_driver=None,
        cuda_capability=None,
        git_sha="0" * 40,
        git_dirty=False,
        time_utc="2026-01-01T00:00:00Z",
    )


def _timing(mode, seconds):
    return ModeTiming(
        mode=mode,
        per_call_s=tuple(seconds),
        summary=summarize(seconds),
        iters_per_block=1,
        warmup_blocks=3,
        steady=True,
        first_call_s=1.0,
    )


def _result(name, speedup):
    eager = [0.010, 0.011, 0.012]
    compiled = [s / speedup for s in eager]
    return BenchmarkResult(
        name=name,
        group=name.rsplit("/", 1)[0],
        task=Task(name.split("/")[1]),
        variant=name.rsplit("/", 1)[1],
        device="cpu",
        precision=Precision.FP32,
        backend="inductor",
        mode=CompileMode.DEFAULT,
        unit="images/s",
        items_per_call=32,
        eager=_timing(CompileMode.EAGER, eager),
        compiled=_timing(CompileMode.DEFAULT, compiled),
        speedup=speedup_interval(eager, compiled, resamples=20),
        per_round_speedup=(speedup,) * 3,
        compile_time=CompileTime(cold_s=6.0, warm_s=0.5),
        memory_eager=PeakMemory(kind=MemoryKind.CPU_PEAK_RSS, peak_bytes=200, baseline_bytes=100),
        memory_compiled=None,
        flops_per_call=1000,
        mfu_eager=None,
        mfu_compiled=None,
    )


def _run(results, comparisons=(), environment=None):
    environment = environment or _environment()
    return BenchmarkRun(
        config=RunConfig(measure=MeasureConfig(), workloads=("cnn-*",)),
        results=tuple(results),
        comparisons=tuple(comparisons),
        goals=evaluate_goals(results, comparisons, environment),
        wall_s=1.5,
    )


def _json(run):
    return report_to_json(RunReport(environment=_environment(), benchmarks=run))


def test_run_survives_a_json_round_trip_unchanged():
    """to JSON and back gives an equal run: enums, tuples, nested records and None."""
    run = _run([_result("cnn-small/infer/bare", 2.5)])
    assert report_from_json(_json(run)).benchmarks == run


def test_json_of_another_schema_version_is_refused():
    """A reader never half-reads a file written by another schema version."""
    document = json.loads(_json(_run([])))
    document["schema_version"] = 99
    with pytest.raises(ReportFormatError, match="version 99"):
        report_from_json(json.dumps(document))


def test_json_with_an_unknown_field_is_refused():
    """Unknown fields mean the writer was newer: refuse rather than drop data."""
    document = json.loads(_json(_run([])))
    document["benchmarks"]["surprise"] = 1
    with pytest.raises(ReportFormatError, match="surprise"):
        report_from_json(json.dumps(document))


def _status(run, goal):
    return next(v.status for v in run.goals if v.goal == goal)


def test_speedup_goals_follow_the_point_estimate():
    """2.5x meets the CNN inference goal (>= 2); 1.1x misses the transformer one (>= 1.2)."""
    run = _run([_result("cnn-small/infer/bare", 2.5), _result("transformer-small/infer/bare", 1.1)])
    assert _status(run, "cpu.cnn.infer.speedup") is GoalStatus.MET
    assert _status(run, "cpu.transformer.infer.speedup") is GoalStatus.MISSED
    assert _status(run, "cpu.transformer.train.speedup") is GoalStatus.NOT_MEASURED


def test_dormant_goal_is_symmetric_around_one():
    """A dormant host 2 % slower or faster than bare is within 3 %; 5 % slower is not."""

    def comparison(group, point):
        return Comparison(
            name="dormant-vs-bare",
            group=group,
            mode=CompileMode.DEFAULT,
            description="",
            estimate=Interval(point=point, low=point, high=point),
        )

    run = _run(
        [],
        [
            comparison("cnn-small/infer", 1.02),
            comparison("cnn-small/train", 0.98),
            comparison("transformer-small/infer", 1.05),
        ],
    )
    assert _status(run, "cpu.cnn-small.infer.dormant-vs-bare") is GoalStatus.MET
    assert _status(run, "cpu.cnn-small.train.dormant-vs-bare") is GoalStatus.MET
    assert _status(run, "cpu.transformer-small.infer.dormant-vs-bare") is GoalStatus.MISSED
    assert _status(run, "cpu.transformer-small.train.dormant-vs-bare") is GoalStatus.NOT_MEASURED


def test_gpu_goals_read_not_measured_on_a_cpu_run():
    """No Hopper GPU in the run: its goals are not measured, never guessed."""
    run = _run([_result("cnn-small/infer/bare", 2.5)])
    assert _status(run, "hopper.gpt2-small.train.bf16.speedup") is GoalStatus.NOT_MEASURED
    assert _status(run, "hopper.gpt2-small.train.bf16.mfu") is GoalStatus.NOT_MEASURED


def test_cpu_goals_read_not_measured_on_a_gpu_run():
    """A CUDA run says nothing about the CPU goals."""
    environment = dataclasses.replace(
        _environment(), device_kind="cuda", device_name="NVIDIA H100 80GB HBM3"
    )
    run = _run([_result("cnn-small/infer/bare", 2.5)], environment=environment)
    assert _status(run, "cpu.cnn.infer.speedup") is GoalStatus.NOT_MEASURED


def test_table_shows_speedup_ci_and_goal_verdicts():
    """The console table carries each workload's speedup with its CI, and every goal."""
    from reporting.bench_table import render

    text = render(_run([_result("cnn-small/infer/bare", 2.5)]), _environment())
    assert "cnn-small/infer/bare" in text
    assert "2.50x" in text and "[2.50, 2.50]" in text
    assert "cpu.cnn.infer.speedup" in text and "MET" in text
    assert "NOT MEASURED" in text


def test_table_warns_when_the_machine_was_shared():
    """A load above the CPU count at start or end is called out above the figures."""
    from reporting.bench_table import render

    busy = dataclasses.replace(_environment(), load_average=(5.0, 4.0, 3.0))
    assert "WARNING: other jobs shared the CPUs" in render(_run([], environment=busy), busy)
    quiet = dataclasses.replace(_environment(), load_average=(0.5, 0.4, 0.3))
    assert "WARNING" not in render(_run([], environment=quiet), quiet)
