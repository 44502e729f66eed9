"""python -m audits.run: --help, exit codes 0/1/2, one-line usage errors, the files it writes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from audits.options import build_parser, parse_config
from audits.run import cli
from reporting.schema.audit import FailOn, TargetStatus
from reporting.schema.report import load_report

REPO = Path(__file__).resolve().parents[2]

FLAGS = (
    "--targets",
    "--target",
    "--backend",
    "--device",
    "--dtype",
    "--quick",
    "--no-bench",
    "--hazards",
    "--timeout",
    "--jobs",
    "--out",
    "--fail-on",
    "--verbose",
)


def test_help_documents_every_flag(capsys):
    """--help exits 0 and every flag has its own help text."""
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in FLAGS:
        assert flag in text
    documented = {a.option_strings[-1]: a.help for a in build_parser()._actions if a.option_strings}
    assert all(documented.get(flag) for flag in FLAGS)


BAD_USAGE = [
    (["--backend", "tpu"], "eager"),
    (["--device", "tpu"], "auto"),
    (["--dtype", "fp8"], "fp32"),
    (["--fail-on", "speed"], "breaks, recompiles, parity, exceptions"),
    (["--fail-on", "none,breaks"], "or none alone"),
    (["--timeout", "0"], "> 0"),
    (["--jobs", "0"], ">= 1"),
    (["--jobs", "two"], "int"),
    (["--targets", "nope/*"], "valid names: isolation/ste_forward"),
    (["--target", "no_such_module_for_audit:make"], "cannot import"),
    (["--target", "not a spec"], "package.module:factory"),
    (["--quick", "--backend", "inductor"], "aot_eager"),
    (["--no-such-flag"], "unrecognized"),
]


@pytest.mark.parametrize(("argv", "valid"), BAD_USAGE)
def test_bad_usage_exits_2_with_one_line_naming_what_is_valid(argv, valid, capsys):
    """Each usage error is exit code 2 and a single stderr line that says what is accepted."""
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("audits.run: error:")
    assert valid in err


def test_fail_on_none_watches_no_check():
    """--fail-on none watches no check; the default watches all four."""
    assert parse_config(["--fail-on", "none"]).fail_on == ()
    assert parse_config(["--fail-on", " none "]).fail_on == ()
    assert parse_config([]).fail_on == tuple(FailOn)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_usage_error(capsys):
    """--device cuda on a CPU-only machine: exit 2, naming the devices that would work."""
    assert cli(["--device", "cuda", "--targets", "isolation/*"]) == 2
    assert "valid devices: auto, cpu" in capsys.readouterr().err


USER_MODULES = """
import torch
from torch import nn


class Clean(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        return self.proj(x)


class Recompiling(Clean):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.proj(x) * self.calls


def clean():
    return Clean(), (torch.randn(2, 4),)


def recompiling():
    return Recompiling(), (torch.randn(2, 4),)


def broken():
    raise RuntimeError("this factory cannot build its module")
"""


def _audit(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the CLI as a user would: a fresh process, output not a terminal."""
    (tmp_path / "cli_user_modules.py").write_text(textwrap.dedent(USER_MODULES))
    out = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "audits.run", "--quick", "--out", str(out), *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, out


@pytest.mark.slow
def test_detected_hazards_and_a_clean_user_target_exit_0(tmp_path):
    """Hazards flagged as expected and a clean module: exit 0, JSON and summary written, quiet."""
    done, out = _audit(
        tmp_path,
        "--hazards",
        "--targets",
        "hazard/print_in_forward",
        "hazard/raise_under_fullgraph",
        "--target",
        "cli_user_modules:clean",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # not a terminal: no progress
    run = load_report(out).audit
    assert [t.name for t in run.targets] == [
        "hazard/print_in_forward",
        "hazard/raise_under_fullgraph",
        "cli_user_modules:clean",
    ]
    assert all(t.status is TargetStatus.PASSED for t in run.targets)
    assert run.config.backend == "aot_eager" and not run.config.bench
    assert json.loads((out / "report.json").read_text())["schema_version"] == 2
    summary = (out / "summary.txt").read_text()
    assert summary == done.stdout
    assert "detected" in summary and "GB0059" in summary  # print's break code, with its hint


@pytest.mark.slow
def test_a_recompiling_target_exits_1_unless_fail_on_leaves_recompiles_out(tmp_path):
    """Exit 1 when a check named in --fail-on fails; 0 when it is not named, or with none."""
    failing, _ = _audit(tmp_path, "--target", "cli_user_modules:recompiling")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "guard failed" in failing.stdout
    tolerated, _ = _audit(
        tmp_path, "--target", "cli_user_modules:recompiling", "--fail-on", "breaks,parity"
    )
    assert tolerated.returncode == 0, tolerated.stdout + tolerated.stderr
    surveyed, out = _audit(
        tmp_path, "--target", "cli_user_modules:recompiling", "--fail-on", "none"
    )
    assert surveyed.returncode == 0, surveyed.stdout + surveyed.stderr
    assert "guard failed" in surveyed.stdout  # still reported, only not failing the run
    assert load_report(out).audit.config.fail_on == ()


@pytest.mark.slow
def test_fail_on_none_exits_0_even_for_an_errored_target(tmp_path):
    """An errored target exits 1 by default; --fail-on none records it and exits 0."""
    failing, _ = _audit(tmp_path, "--target", "cli_user_modules:broken")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    surveyed, out = _audit(tmp_path, "--target", "cli_user_modules:broken", "--fail-on", "none")
    assert surveyed.returncode == 0, surveyed.stdout + surveyed.stderr
    (result,) = load_report(out).audit.targets
    assert result.status is TargetStatus.ERROR
    assert "cannot build its module" in result.error.message
