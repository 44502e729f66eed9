"""audits.run's edges: the baseline plan before the run, the published report after it."""

import datetime as dt

import pytest
from support.synthetic_reports import (
    benchmark,
    benchmark_run,
    breaks,
    environment,
    graph_break,
    report,
    target,
)

from foundation.environment import collect_environment
from reporting.publish import (
    check_out_dir,
    prepare_baseline,
    publish_benchmarks,
    publish_report,
)
from reporting.rundir import RunDirExistsError, claim_run_dir
from reporting.schema.report import ReportFormatError, RunReport, load_report, report_to_json


def test_a_missing_baseline_fails_before_the_run(tmp_path):
    """--baseline FILE is read up front: a missing file is a one-line ReportFormatError."""
    with pytest.raises(ReportFormatError, match="not found"):
        prepare_baseline(
            str(tmp_path / "nope.json"), update=False, device_kind="cpu", torch_version="2.13.0"
        )
    assert prepare_baseline(None, update=False, device_kind="cpu", torch_version="2.13.0") is None


def test_update_baseline_does_not_need_an_existing_file(tmp_path):
    """--update-baseline plans a write even where no baseline exists yet."""
    plan = prepare_baseline(
        str(tmp_path / "new.json"), update=True, device_kind="cpu", torch_version="2.13.0"
    )
    assert plan.update and plan.baseline is None


def test_environment_takes_the_runs_start_and_the_childrens_threads():
    """The audit's environment is stamped with its start time and its children's threads."""
    started = dt.datetime(2026, 3, 1, 15, 15, 3, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    record = collect_environment("cpu", started_at=started, threads=3)
    assert (record.time_utc, record.threads) == ("2026-03-01T14:15:03Z", 3)
    assert record.device_kind == "cpu" and record.cpu_model and record.device_name


def test_publish_updates_then_gates(tmp_path, capsys, monkeypatch):
    """Publishing with --update-baseline writes it; the next run is gated against it (exit 1)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    baseline = tmp_path / "baseline" / "cpu-torch2.13.0.json"
    plan = prepare_baseline(str(baseline), update=True, device_kind="cpu", torch_version="2.13.0")
    clean = report(target("t"))
    first = publish_report(
        clean, claim_run_dir(report().environment, root=tmp_path), plan, root=tmp_path
    )
    assert first.exit_code == 0 and load_report(baseline) == clean
    plan = prepare_baseline(str(baseline), update=False, device_kind="cpu", torch_version="2.13.0")
    worse = report(target("t", breaks=breaks(graph_break())))
    run_dir = claim_run_dir(worse.environment, root=tmp_path)
    second = publish_report(worse, run_dir, plan, root=tmp_path)
    assert second.exit_code == 1 and (run_dir / "comparison.md").exists()
    assert baseline.read_text() == report_to_json(clean)  # gating never rewrites it


def test_an_out_dir_with_files_is_refused_up_front(tmp_path):
    """check_out_dir lets an empty or new --out through and refuses one holding files."""
    check_out_dir(tmp_path / "new")
    check_out_dir(tmp_path)
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(RunDirExistsError):
        check_out_dir(tmp_path)


def test_a_benchmark_run_gets_its_own_report_directory(tmp_path):
    """benchmarks.run's hook writes a report of speedups alone, named by its environment."""
    run = benchmark_run(benchmark())
    run_dir, summary = publish_benchmarks(
        RunReport(environment=environment(), benchmarks=run), root=tmp_path
    )
    assert (run_dir / "summary.txt").read_text() == summary
    assert run_dir.name == "20260301T141503Z-1a2b3c4"
    written = load_report(tmp_path / "latest")
    assert written.audit is None and written.benchmarks == run
    assert "| 2.00x" in (run_dir / "report.md").read_text()
