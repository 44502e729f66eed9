"""The run directory: naming, never overwriting, latest, atomic writes, md/csv/png rendering."""

import io
import os

import matplotlib.image
import pandas as pd
import pytest
from support.synthetic_reports import (
    benchmark,
    breaks,
    environment,
    exceptions,
    graph_break,
    parity,
    recompiles,
    report,
    target,
)

from foundation import files as atomic
from reporting import optional
from reporting.csv_table import results_csv
from reporting.markdown import render_markdown
from reporting.plots import figure_size_px
from reporting.rundir import (
    REPORT_FILES,
    RunDirExistsError,
    claim_run_dir,
    run_dir_name,
    update_latest,
    write_run_report,
)
from reporting.schema.audit import ErrorInfo, TargetStatus
from reporting.schema.report import load_report


def _busy_report():
    problems = target(
        "stage/cnn-blending",
        breaks=breaks(graph_break()),
        recompiles=recompiles(3, guard="___check_obj_id(self.alpha)"),
        parity=parity(passed=False, max_abs=0.5),
        exceptions=exceptions(type_matches=False),
    )
    speedups = (benchmark(), benchmark("transformer-small/infer/bare", 1.3, 1.2, 1.4))
    return report(target("host/cnn"), problems, speedups=speedups)


def test_run_dir_is_named_by_utc_time_and_short_sha():
    """reports/<UTC date-time>-<short sha>[-dirty]: sortable, naming the commit and its state."""
    assert run_dir_name(environment()) == "20260301T141503Z-1a2b3c4"
    assert run_dir_name(environment(dirty=True)) == "20260301T141503Z-1a2b3c4-dirty"


def test_claiming_never_reuses_a_run_directory(tmp_path):
    """Two runs of one commit in one second get two directories; an --out with files is refused."""
    first = claim_run_dir(environment(), root=tmp_path)
    second = claim_run_dir(environment(), root=tmp_path)
    assert first != second and second.name.endswith("-2")
    (first / "report.json").write_text("{}")
    with pytest.raises(RunDirExistsError, match="never overwritten"):
        claim_run_dir(environment(), first)
    assert (first / "report.json").read_text() == "{}"


def test_write_run_report_writes_every_file_and_points_latest(tmp_path):
    """report.json/.md, results.csv and both PNGs land in the run dir; latest names the newest."""
    run = _busy_report()
    older = claim_run_dir(environment(), root=tmp_path)
    write_run_report(run, older, root=tmp_path)
    newer = claim_run_dir(environment(), root=tmp_path)
    write_run_report(run, newer, root=tmp_path)
    assert sorted(p.name for p in newer.iterdir()) == sorted(REPORT_FILES)
    assert (tmp_path / "latest").resolve() == newer.resolve()
    assert load_report(tmp_path / "latest") == run
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_run_report(run, newer, root=tmp_path)


def test_run_report_files_hold_no_absolute_checkout_paths(tmp_path):
    """A path under the checkout that torch quotes is written relative to it, in every file."""
    checkout = tmp_path / "repo"
    quoted = f'File "{checkout}/.tox/py311-torch25/lib/torch/_dynamo/eval_frame.py", line 3'
    error = ErrorInfo(type="BackendCompilerFailed", message=quoted, traceback=quoted)
    run = report(target("t", status=TargetStatus.ERROR, error=error))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_run_report(run, run_dir, root=tmp_path, checkout=checkout)
    for name in ("report.json", "report.md", "results.csv"):
        assert str(checkout) not in (run_dir / name).read_text(), name
    loaded = load_report(run_dir).audit.targets[0].error
    assert loaded.message == 'File ".tox/py311-torch25/lib/torch/_dynamo/eval_frame.py", line 3'


def test_latest_falls_back_to_a_pointer_file_without_symlinks(tmp_path, monkeypatch):
    """Where symlinks fail, latest is a file naming the run, and loading through it still works."""
    run_dir = claim_run_dir(environment(), root=tmp_path)
    write_run_report(_busy_report(), run_dir, root=tmp_path)

    def refuse(*args, **kwargs):
        raise OSError("symlinks not permitted")

    monkeypatch.setattr(os, "symlink", refuse)
    newer = claim_run_dir(environment(), root=tmp_path)
    write_run_report(_busy_report(), newer, root=tmp_path)
    latest = tmp_path / "latest"
    assert not latest.is_symlink() and latest.read_text().strip() == newer.name
    assert load_report(latest).environment == environment()


def test_latest_ignores_runs_written_elsewhere(tmp_path):
    """An --out outside the reports folder does not move reports/latest."""
    out = claim_run_dir(environment(), tmp_path / "elsewhere")
    assert update_latest(out, root=tmp_path / "reports") is None


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    """Atomic writes: an error mid-write keeps the previous content and cleans up the temp file."""
    path = tmp_path / "report.json"
    atomic.atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as staged:
        staged.write_text("half")
        raise RuntimeError("renderer crashed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_markdown_has_every_section_with_the_problems(tmp_path):
    """report.md: summary, status, breaks with location and hint, recompiles, parity, speedups."""
    text = render_markdown(_busy_report())
    lines = text.splitlines()
    assert lines[2].startswith("**FAIL**: 2 targets")
    for heading in (
        "Environment",
        "Compile status",
        "Graph breaks",
        "Recompiles",
        "Parity",
        "Exception parity",
        "Compile time",
        "Speedups",
    ):
        assert f"## {heading}" in lines, heading
    assert "`esper/kasmina/slot.py:12`" in text and "Use torch.where \\| torch.cond" in text
    assert "___check_obj_id(self.alpha)" in text
    assert "TYPE DIFFERS" in text and "`TorchRuntimeError`" in text
    assert "| 2.00x     | [1.90, 2.10]" in text


def test_csv_has_one_row_per_target_and_metric():
    """results.csv is long form: (source, target, metric) is unique and speedups carry their CI."""
    frame = pd.read_csv(io.StringIO(results_csv(_busy_report())))
    assert not frame.duplicated(["source", "target", "metric"]).any()
    speedup = frame[(frame.metric == "speedup") & frame.target.str.startswith("cnn-small")].iloc[0]
    assert (speedup.value, speedup.low, speedup.high, speedup.interval) == (2.0, 1.9, 2.1, "ci95")
    breaks_row = frame[(frame.target == "stage/cnn-blending") & (frame.metric == "graph_breaks")]
    assert breaks_row.value.tolist() == [1]


@pytest.mark.parametrize("speedups", [2, 0])
def test_pngs_open_with_the_expected_size(tmp_path, speedups):
    """speedup.png and compile_time.png are real PNGs of the size their row count gives."""
    results = tuple(benchmark(f"w{i}/infer/bare", 1.5 + i / 10, 1.4, 1.9) for i in range(speedups))
    run = report(target("a"), target("b"), target("c"), speedups=results)
    run_dir = claim_run_dir(environment(), root=tmp_path)
    write_run_report(run, run_dir, root=tmp_path)
    speedup = matplotlib.image.imread(run_dir / "speedup.png")
    compile_time = matplotlib.image.imread(run_dir / "compile_time.png")
    width, height = figure_size_px(speedups)
    assert speedup.shape[:2] == (height, width)
    width, height = figure_size_px(3 + speedups)  # three audit targets and each benchmark's compile
    assert compile_time.shape[:2] == (height, width)


def test_without_matplotlib_the_report_says_so_and_draws_nothing(tmp_path, monkeypatch):
    """A plain install (no matplotlib) writes every other file; report.md says why no chart."""
    monkeypatch.setattr(optional, "plots_available", lambda: False)
    run_dir = claim_run_dir(environment(), root=tmp_path)
    write_run_report(_busy_report(), run_dir, root=tmp_path)
    written = sorted(p.name for p in run_dir.iterdir())
    assert written == ["report.json", "report.md", "results.csv", "summary.txt"]
    text = (run_dir / "report.md").read_text()
    assert optional.PLOTS_MISSING in text and ".png" not in text
