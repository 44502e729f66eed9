"""One round of every workload on CPU at tiny sizes, with a cheap backend.

These check that every variant builds, compiles, steps and lands in a complete result;
they say nothing about speed (the aot_eager backend makes no code faster).
"""

import dataclasses
import math

import pytest
import torch

from benchmarks import Task, benchmark_module
from benchmarks.measure import Candidate, measure_candidates
from benchmarks.runner import run_benchmarks
from benchmarks.specs import HOST_VARIANTS
from reporting.schema.benchmark import ErrorPhase, GoalStatus
from reporting.schema.benchmark_settings import CompileTimeScope, MeasureConfig, RunConfig
from reporting.schema.report import report_from_json, report_to_json
from reporting.schema.vocabulary import CompileMode
from reporting.schema.vocabulary import Task as SpecTask

CHEAP = MeasureConfig(
    backend="aot_eager",
    rounds=1,
    min_block_s=0.0,
    warmup_max_blocks=1,
    compile_time=CompileTimeScope.NONE,
    resamples=20,
    threads=1,
)


@pytest.fixture(scope="module")
def tiny_report():
    config = RunConfig(measure=CHEAP, workloads=("cnn-tiny/*", "transformer-tiny/*"))
    return run_benchmarks(config)


@pytest.fixture(scope="module")
def tiny_run(tiny_report):
    return tiny_report.benchmarks


@pytest.mark.slow
def test_every_tiny_workload_yields_a_complete_result(tiny_run):
    """2 topologies x 2 tasks x 5 variants, each with timings, a speedup, memory and FLOPs."""
    assert len(tiny_run.results) == 2 * len(SpecTask) * len(HOST_VARIANTS)
    for result in tiny_run.results:
        assert result.error is None, f"{result.name}: {result.error}"
        assert result.eager.summary.n == 1 and result.compiled.summary.n == 1
        assert math.isfinite(result.speedup.point) and result.speedup.point > 0
        assert result.memory_eager is not None and result.memory_compiled is not None
        assert result.flops_per_call > 0
        assert result.mfu_compiled is None  # no dense peak for a CPU


@pytest.mark.slow
def test_tiny_run_compares_slots_and_seeds_in_every_group(tiny_run):
    """Each group has dormant-vs-bare per mode; training groups add the seed overhead."""
    names = {(c.group, c.mode, c.name) for c in tiny_run.comparisons}
    for family in ("cnn-tiny", "transformer-tiny"):
        for task in ("infer", "train"):
            for mode in (CompileMode.EAGER, CompileMode.DEFAULT):
                assert (f"{family}/{task}", mode, "dormant-vs-bare") in names
                assert (f"{family}/{task}", mode, "seed-fossilized-vs-dormant") in names
        assert (f"{family}/train", CompileMode.DEFAULT, "seed-training-overhead") in names


@pytest.mark.slow
def test_tiny_run_round_trips_and_its_cpu_goals_are_not_measured(tiny_report):
    """The JSON reads back equal; goals name the small sizes, which a tiny run lacks."""
    assert report_from_json(report_to_json(tiny_report)) == tiny_report
    goals = tiny_report.benchmarks.goals
    assert all(verdict.status is GoalStatus.NOT_MEASURED for verdict in goals)
    assert tiny_report.environment.threads == 1


@pytest.mark.slow  # two compiles, one after clearing the caches
def test_compile_time_is_measured_cold_and_warm():
    """With compile_time on, a compiled candidate records both first calls."""
    config = dataclasses.replace(
        CHEAP, compile_time=CompileTimeScope.BARE, memory=False, flops=False
    )
    found = benchmark_module(lambda: torch.nn.Linear(8, 4), torch.randn(2, 8), config)
    assert found.error is None
    assert found.compile_time is not None
    assert found.compile_time.cold_s > 0 and found.compile_time.warm_s > 0


def test_benchmark_module_measures_a_training_step():
    """The audit's entry point: any module, training step, samples per second."""
    found = benchmark_module(
        lambda: torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()),
        (torch.randn(4, 8),),
        dataclasses.replace(CHEAP, rounds=3),
        task=Task.TRAIN,
        name="mlp",
    )
    assert found.error is None
    assert (found.name, found.task, found.unit, found.items_per_call) == (
        "mlp",
        Task.TRAIN,
        "samples/s",
        4,
    )
    assert len(found.per_round_speedup) == 3


def test_a_failing_candidate_is_recorded_and_the_others_still_run():
    """An exception while building becomes that candidate's error; the rest are timed."""

    def broken():
        raise RuntimeError("no such model")

    found = measure_candidates(
        [
            Candidate(name="ok", mode=CompileMode.EAGER, build=lambda: lambda: None),
            Candidate(name="broken", mode=CompileMode.EAGER, build=broken),
        ],
        dataclasses.replace(CHEAP, rounds=2, memory=False, flops=False),
    ).candidates
    assert found["broken"].error.phase is ErrorPhase.BUILD
    assert "no such model" in found["broken"].error.message
    assert len(found["ok"].per_call_s) == 2 and found["ok"].error is None


def test_benchmark_module_takes_exactly_one_compiled_mode():
    """Comparing several modes at once is the CLI's job; the audit gets one result."""
    config = dataclasses.replace(CHEAP, modes=(CompileMode.DEFAULT, CompileMode.MAX_AUTOTUNE))
    with pytest.raises(ValueError, match="one compiled mode"):
        benchmark_module(lambda: torch.nn.Linear(2, 2), torch.randn(1, 2), config)


@pytest.mark.slow
def test_each_result_records_its_group_order_and_clocks(tiny_run):
    """Every result carries the seeded per-round order of its group's candidates and clocks."""
    for result in tiny_run.results:
        record = result.rounds
        assert record is not None and record.order_seed == CHEAP.seed
        assert len(record.orders) == CHEAP.rounds
        assert f"{result.variant}:eager" in record.orders[0]
        assert record.clock_start.gpu_source == "not measured on cpu"
        assert record.clock_end.time_s >= record.clock_start.time_s
