"""The command line: help, bad flags exit 2 with one line, and the workload list."""

import subprocess
import sys

import pytest
import torch

from benchmarks.run import build_parser, cli


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_help_documents_every_flag():
    """--help exits 0 and every option has help text."""
    completed = _run_cli("--help")
    assert completed.returncode == 0
    for flag in (
        "--workloads",
        "--device",
        "--dtype",
        "--mode",
        "--rounds",
        "--quick",
        "--out",
        "--threads",
    ):
        assert flag in completed.stdout
    for action in build_parser()._actions:
        assert action.help, f"{action.option_strings} has no help"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--dtype", "fp16"], "fp32"),
        (["--rounds", "0"], "positive integer"),
        (["--mode", "turbo"], "reduce-overhead"),
        (["--workloads", "resnet/*"], "cnn-small"),
        (["--device", "cpu", "--mode", "reduce-overhead"], "needs --device cuda"),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_valid_values(args, named, capsys):
    """Usage errors exit 2 and the last stderr line names what is accepted."""
    assert cli(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert named in lines[-1]
    assert lines[-1].startswith("python -m benchmarks.run: error:")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU refusal")
def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    """--device cuda on a machine without CUDA exits 2 and says which devices exist."""
    assert cli(["--device", "cuda"]) == 2
    assert "valid devices: auto, cpu" in capsys.readouterr().err


def test_list_prints_the_selected_workloads(capsys):
    """--list resolves the globs and prints one name per line without measuring."""
    assert cli(["--device", "cpu", "--workloads", "cnn-small/train/*", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert names == [
        "cnn-small/train/bare",
        "cnn-small/train/dormant",
        "cnn-small/train/seed-training",
        "cnn-small/train/seed-blending",
        "cnn-small/train/seed-fossilized",
    ]


def test_the_cli_default_is_the_config_default_rounds():
    """--rounds defaults to MeasureConfig's 30, not a number of its own."""
    from benchmarks.run import config_from_args
    from reporting.schema.benchmark_settings import DEFAULT_ROUNDS, MeasureConfig

    args = build_parser().parse_args(["--device", "cpu"])
    assert config_from_args(args).measure.rounds == DEFAULT_ROUNDS == MeasureConfig().rounds
