"""Ladders: which rungs run where, and a tiny ablation run end to end on CPU."""

import pytest

from benchmarks.ladders import ablation_ladder, build_ladder, cpu_options_ladder
from benchmarks.run import build_parser, cli, config_from_args
from reporting.bench_table import render
from reporting.schema.benchmark_settings import (
    Ladder,
    MeasureConfig,
    OptimizerStep,
    WorkloadOptions,
)
from reporting.schema.report import load_report
from reporting.schema.vocabulary import CompileMode


def test_ablation_on_cpu_skips_cuda_levers_without_carrying_them_forward():
    """TF32 and CUDA graphs are not applicable on CPU; pure bf16 after them lacks TF32."""
    rungs = {
        rung.label: rung for rung in ablation_ladder(WorkloadOptions(), CompileMode.DEFAULT, "cpu")
    }
    assert "not applicable on cpu" in rungs["+tf32"].not_applicable
    assert "not applicable on cpu" in rungs["+whole step under CUDA graphs"].not_applicable
    bf16 = rungs["+pure-bf16"]
    assert bf16.not_applicable is None
    assert bf16.options == WorkloadOptions(
        pad_vocab=True, optimizer=OptimizerStep.COMPILED, pure_bf16=True
    )


def test_ablation_on_cuda_adds_every_lever_cumulatively():
    """On CUDA every rung applies, each keeps the ones above, the last is reduce-overhead."""
    rungs = ablation_ladder(WorkloadOptions(), CompileMode.DEFAULT, "cuda")
    assert all(rung.not_applicable is None for rung in rungs)
    assert rungs[-1].mode is CompileMode.REDUCE_OVERHEAD
    assert rungs[-1].options.tf32 and rungs[-1].options.pure_bf16 and rungs[-1].options.pad_vocab


def test_cpu_options_ladder_tries_each_option_alone():
    """Freezing with and without prepacking, and both max-autotune modes, against default."""
    rungs = cpu_options_ladder(WorkloadOptions(), "cpu")
    assert [r.mode for r in rungs].count(CompileMode.DEFAULT) == 3
    assert {r.options.label for r in rungs} >= {"plain", "freezing", "freezing-no-prepack"}
    assert {r.mode for r in rungs} >= {
        CompileMode.MAX_AUTOTUNE,
        CompileMode.MAX_AUTOTUNE_NO_CUDAGRAPHS,
    }
    assert all(r.not_applicable is None for r in rungs)


def test_a_ladder_needs_its_rungs():
    """A ladder without rungs (or rungs without a ladder) is a config error."""
    with pytest.raises(ValueError, match="ladder needs rungs"):
        MeasureConfig(ladder=Ladder.ABLATION)


def test_lever_flags_reach_the_config():
    """Each lever flag lands in MeasureConfig.options; --ladder builds the rungs."""
    args = build_parser().parse_args(
        [
            "--device",
            "cpu",
            "--pad-vocab",
            "--optimizer",
            "fused",
            "--pure-bf16",
            "--sdpa-kernel",
            "math",
            "--freezing",
            "--no-weight-prepack",
            "--ladder",
            "cpu-options",
        ]
    )
    measure = config_from_args(args).measure
    assert (
        measure.options.label == "pad-vocab+fused-optimizer+pure-bf16+sdpa-math+freezing-no-prepack"
    )
    assert measure.ladder is Ladder.CPU_OPTIONS
    assert measure.rungs == build_ladder(
        Ladder.CPU_OPTIONS, measure.options, CompileMode.DEFAULT, "cpu"
    )


def test_tf32_on_cpu_is_a_usage_error(capsys):
    """--tf32 on CPU exits 2 and says it is not applicable there."""
    assert cli(["--device", "cpu", "--tf32"]) == 2
    assert "not applicable on cpu" in capsys.readouterr().err


@pytest.mark.slow
def test_a_tiny_ablation_measures_every_cpu_rung_and_reports_the_others(tmp_path, capsys):
    """Each applicable rung yields a result; the table names the rest as not applicable."""
    out = tmp_path / "run"
    code = cli(
        [
            "--device",
            "cpu",
            "--backend",
            "aot_eager",
            "--workloads",
            "transformer-tiny/train/bare",
            "--ladder",
            "ablation",
            "--rounds",
            "2",
            "--threads",
            "1",
            "--compile-time",
            "none",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = load_report(out)
    run = report.benchmarks
    settings = [r.setting for r in run.results]
    assert settings == [
        "baseline",
        "+pad-vocab",
        "+fused-optimizer",
        "+compiled-optimizer (for fused)",
        "+pure-bf16",
    ]
    assert all(r.ok and r.attention_compiled == "flash (cpu)" for r in run.results)
    assert len({r.flops_per_call for r in run.results}) == 1  # the pinned yardstick
    # The report layer tells rungs of one mode apart (compare would merge them otherwise).
    from reporting.speedups import speedup_key

    assert len({speedup_key(r) for r in run.results}) == len(run.results)
    assert "+fused-optimizer" in (out / "report.md").read_text()
    table = render(run, report.environment)
    assert table in (out / "summary.txt").read_text()
    assert "TF32 is a CUDA tensor-core mode: not applicable on cpu" in table
    assert "reduce-overhead is CUDA graphs: not applicable on cpu" in table


def test_rungs_select_part_of_a_ladder_and_a_bad_glob_names_the_rungs(capsys):
    """--rungs keeps the matching rungs (with the levers above them); no match exits 2."""
    args = build_parser().parse_args(
        ["--device", "cpu", "--ladder", "ablation", "--rungs", "+pure-bf16", "baseline"]
    )
    rungs = config_from_args(args).measure.rungs
    assert [r.label for r in rungs] == ["baseline", "+pure-bf16"]
    assert rungs[1].options.optimizer is OptimizerStep.COMPILED
    assert cli(["--device", "cpu", "--ladder", "ablation", "--rungs", "nothing*"]) == 2
    assert "+fused-optimizer" in capsys.readouterr().err
