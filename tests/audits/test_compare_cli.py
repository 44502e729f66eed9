"""python -m audits.compare and the baseline: exit codes, step summary, untouched bad baselines."""

import dataclasses
import json
import subprocess
import sys

import pytest
from support.synthetic_reports import (
    breaks,
    environment,
    exceptions,
    graph_break,
    report,
    target,
)

from audits.compare import cli
from reporting.baseline import baseline_name, gate, load_baseline, resolve_baseline, update_baseline
from reporting.schema.audit import CheckStatus, ExceptionsResult
from reporting.schema.report import ReportFormatError, report_to_dict, report_to_json


@pytest.fixture
def runs(tmp_path):
    clean = tmp_path / "base.json"
    clean.write_text(report_to_json(report(target("host/cnn"))))
    broken = tmp_path / "new.json"
    broken.write_text(report_to_json(report(target("host/cnn", breaks=breaks(graph_break())))))
    return clean, broken


def test_no_regression_exits_0_and_prints_markdown(runs, capsys, monkeypatch):
    """Comparing a run with itself prints the markdown report and exits 0."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    clean, _ = runs
    assert cli([str(clean), str(clean)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## esper regression report") and "**no regressions**" in out


def test_a_regression_exits_1_and_is_appended_to_the_step_summary(
    runs, capsys, tmp_path, monkeypatch
):
    """A new break exits 1, and the same markdown is appended to $GITHUB_STEP_SUMMARY."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    clean, broken = runs
    assert cli([str(clean), str(broken)]) == 1
    out = capsys.readouterr().out
    assert "new graph break" in out
    assert summary.read_text() == "earlier step\n" + out + "\n"


@pytest.mark.parametrize(
    "content", [None, "{not json", '{"schema": "esper.benchmarks", "schema_version": 1}']
)
def test_a_missing_corrupt_or_foreign_baseline_exits_2_untouched(runs, tmp_path, capsys, content):
    """A bad baseline is one line on stderr, exit 2, and the file keeps its bytes and mtime."""
    baseline = tmp_path / "baseline.json"
    if content is not None:
        baseline.write_text(content)
        before = (baseline.read_bytes(), baseline.stat().st_mtime_ns)
    assert cli([str(baseline), str(runs[0])]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and err.startswith("audits.compare: error: baseline")
        and str(baseline) in err
    )
    if content is not None:
        assert (baseline.read_bytes(), baseline.stat().st_mtime_ns) == before
    else:
        assert not baseline.exists()


def test_bad_threshold_is_usage_error(runs, capsys):
    """--threshold outside (0, 1) exits 2 naming the value."""
    with pytest.raises(SystemExit) as caught:
        cli([str(runs[0]), str(runs[0]), "--threshold", "10"])
    assert caught.value.code == 2 and "got 10.0" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point_runs(runs):
    """`python -m audits.compare --help` documents the flag, as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "audits.compare", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--threshold" in done.stdout


def test_auto_baseline_is_the_cpu_file_for_the_installed_torch(tmp_path):
    """auto picks <device>-torch<version>.json, else the CPU one; a +local tag is dropped."""
    assert baseline_name("cpu", "2.13.0+cpu") == "cpu-torch2.13.0.json"
    cpu = tmp_path / "cpu-torch2.13.0.json"
    assert (
        resolve_baseline("auto", device_kind="cpu", torch_version="2.13.0", directory=tmp_path)
        == cpu
    )
    cpu.write_text("{}")
    assert (
        resolve_baseline("auto", device_kind="cuda", torch_version="2.13.0", directory=tmp_path)
        == cpu
    )
    assert resolve_baseline("x.json", device_kind="cpu", torch_version="2.13.0").name == "x.json"


def test_update_baseline_then_gate_against_it(tmp_path, capsys, monkeypatch):
    """--update-baseline writes a loadable baseline; gating writes comparison.md to the run."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    path = update_baseline(report(target("t")), tmp_path / "baseline" / "cpu-torch2.13.0.json")
    assert json.loads(path.read_text())["schema"] == "esper.report"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    new = report(target("t", breaks=breaks(graph_break())), env=environment(device_kind="cuda"))
    code, result = gate(load_baseline(path), new, run_dir=run_dir)
    assert code == 1 and not result.timings_compared
    text = (run_dir / "comparison.md").read_text()
    assert "**timings not compared** (device kind cpu vs cuda)" in text


def test_load_baseline_prefixes_its_errors(tmp_path):
    """Baseline errors say 'baseline' so the one line is clear in a CI log."""
    path = tmp_path / "b.json"
    document = report_to_dict(report())
    document["schema_version"] = 7
    path.write_text(json.dumps(document))
    with pytest.raises(
        ReportFormatError, match=r"^baseline .*b\.json: schema 'esper.report' version 7"
    ):
        load_baseline(path)


def test_audit_run_refuses_a_bad_baseline_before_auditing(tmp_path, capsys):
    """audits.run --baseline with a corrupt file: one line, exit 2, no run directory, file kept."""
    from audits.run import cli as audit_cli

    baseline = tmp_path / "baseline.json"
    baseline.write_text("{corrupt")
    out = tmp_path / "run"
    argv = [
        "--quick",
        "--targets",
        "isolation/ste_forward",
        "--out",
        str(out),
        "--baseline",
        str(baseline),
    ]
    assert audit_cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "baseline" in err and "not valid JSON" in err
    assert baseline.read_text() == "{corrupt" and not out.exists()


def test_the_committed_baseline_holds_no_absolute_checkout_paths(tmp_path):
    """Paths under the checkout that torch quotes in messages become relative in the baseline."""
    checkout = tmp_path / "repo"
    quoted = f'File "{checkout}/esper/kasmina/host.py", line 12'
    case = dataclasses.replace(exceptions(type_matches=False).cases[0], compiled_message=quoted)
    run = report(
        target(
            "t",
            exceptions=ExceptionsResult(status=CheckStatus.FAILED, fullgraph=True, cases=(case,)),
        )
    )
    path = update_baseline(run, tmp_path / "b.json", checkout=checkout)
    assert str(checkout) not in path.read_text()
    assert 'File \\"esper/kasmina/host.py\\"' in path.read_text()
    assert (
        load_baseline(path)
        .audit.targets[0]
        .exceptions.cases[0]
        .compiled_message.startswith('File "esper/kasmina/host.py"')
    )


def test_cuda_baselines_are_named_by_hardware_class(tmp_path, monkeypatch):
    """auto on an H200 reads cuda-hopper-torch<v>.json; --update-baseline writes it, never cpu."""
    from reporting.baseline import baseline_device
    from reporting.publish import prepare_baseline

    assert baseline_device("cuda", "NVIDIA H200") == "cuda-hopper"
    assert baseline_device("cuda", "NVIDIA A100-SXM4-80GB") == "cuda-ampere"
    assert baseline_device("cuda", "Tesla T4") == "cuda"
    assert baseline_device("cpu", "AMD EPYC") == "cpu"
    hopper = tmp_path / "cuda-hopper-torch2.11.0.json"
    (tmp_path / "cpu-torch2.11.0.json").write_text("{}")
    assert (
        resolve_baseline(
            "auto", device_kind="cuda-hopper", torch_version="2.11.0", directory=tmp_path
        )
        == tmp_path / "cpu-torch2.11.0.json"
    )  # no CUDA baseline yet: the CPU one
    hopper.write_text("{}")
    assert (
        resolve_baseline(
            "auto", device_kind="cuda-hopper", torch_version="2.11.0+cu130", directory=tmp_path
        )
        == hopper
    )
    monkeypatch.chdir(tmp_path)
    baseline_dir = tmp_path / "reports" / "baseline"
    baseline_dir.mkdir(parents=True)
    (baseline_dir / "cpu-torch2.11.0.json").write_text("{}")
    plan = prepare_baseline(None, update=True, device_kind="cuda-hopper", torch_version="2.11.0")
    assert plan.path.name == "cuda-hopper-torch2.11.0.json"
