"""python -m audits.history: reports commit by commit, on synthetic reports and a tmp git repo."""

import csv
import dataclasses
import io
import os
import random
import subprocess
import sys

import pytest
from support.synthetic_reports import (
    benchmark,
    breaks,
    environment,
    graph_break,
    recompiles,
    report,
    target,
)

from audits.history import cli
from reporting import optional
from reporting.history import HistoryEntry, RegressionEvent, build_history
from reporting.history_tables import history_csv, history_markdown, history_text
from reporting.regressions import RegressionKind
from reporting.schema.audit import TargetStatus
from reporting.schema.report import RunReport, report_to_json


def _sha(n: int) -> str:
    return str(n) * 40  # commit n's short sha is n seven times: 2222222


def _at(n: int, *targets, speedups=(), device: str = "cpu") -> RunReport:
    """The report of a run at commit n, started on day n."""
    env = environment(device_kind=device, time_utc=f"2026-03-{n:02d}T12:00:00Z")
    return report(*targets, speedups=speedups, env=dataclasses.replace(env, git_sha=_sha(n)))


def _clean(name: str = "host/cnn"):
    return target(name)


def _breaking(name: str = "host/cnn"):
    return target(name, status=TargetStatus.FAILED, breaks=breaks(graph_break()))


def _entries(*reports: RunReport) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            commit=r.environment.short_sha, time_utc=r.environment.time_utc, source="-", report=r
        )
        for r in reports
    ]


def _write_runs(root, *reports: RunReport) -> list[str]:
    """Each report in a run folder of its own; the folders' paths, shuffled."""
    folders = []
    for r in reports:
        folder = root / f"run-{r.environment.short_sha}"
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(report_to_json(r))
        folders.append(str(folder))
    random.Random(4).shuffle(folders)
    return folders


def _regressions_table(markdown: str) -> list[list[str]]:
    section = markdown.split("## Regressions", 1)[1].split("##", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_a_break_introduced_at_commit_2_and_gone_at_commit_4_is_dated_so():
    """One event: it appeared at the second report and the fourth fixed it, nothing else."""
    history = build_history(
        _entries(
            _at(1, _clean()),
            _at(2, _breaking()),
            _at(3, _breaking()),
            _at(4, _clean()),
            _at(5, _clean()),
        )
    )
    assert [(e.target, e.kind, e.appeared, e.fixed) for e in history.events] == [
        ("host/cnn", RegressionKind.GRAPH_BREAK, 1, 3)
    ]
    assert "graphs 1 -> 2, breaks 0 -> 1" in history.events[0].detail
    assert [p.graph_breaks for p in history.target("host/cnn").points] == [0, 1, 1, 0, 0]


def test_the_cli_orders_run_folders_by_time_and_names_both_commits(tmp_path, capsys):
    """Run folders in any order: history.md names 2222222 where it appeared, 4444444 fixed."""
    runs = _write_runs(
        tmp_path / "reports",
        _at(1, _clean()),
        _at(2, _breaking()),
        _at(3, _breaking()),
        _at(4, _clean()),
    )
    out = tmp_path / "history"
    assert cli([*runs, "--out", str(out)]) == 0
    markdown = (out / "history.md").read_text()
    assert _regressions_table(markdown) == [
        [
            "host/cnn",
            "new graph break",
            "2222222",
            "4444444",
            "graphs 1 -> 2, breaks 0 -> 1",
        ]
    ]
    assert "1 regression(s) appeared; 1 fixed since, 0 still open at 4444444" in markdown
    printed = capsys.readouterr().out
    assert "appeared: new graph break" in printed and "fixed: new graph break" in printed
    rows = list(csv.DictReader(io.StringIO((out / "history.csv").read_text())))
    assert [(r["commit"], r["value"]) for r in rows if r["metric"] == "graph_breaks"] == [
        ("1111111", "0"),
        ("2222222", "1"),
        ("3333333", "1"),
        ("4444444", "0"),
    ]


def test_a_regression_never_fixed_is_still_there():
    """Recompiles that grow at commit 3 and stay are open at the end."""
    more = target("host/cnn", status=TargetStatus.FAILED, recompiles=recompiles(3, budget=1))
    history = build_history(
        _entries(_at(1, _clean()), _at(2, _clean()), _at(3, more), _at(4, more))
    )
    assert [(e.kind, e.appeared, e.fixed) for e in history.events] == [
        (RegressionKind.RECOMPILES, 2, None)
    ]
    assert history.open_events == history.events
    text = history_text(history)
    assert "not fixed" in text and "3/1 over" in text


def test_a_report_without_the_target_does_not_fix_its_regression():
    """Commit 3 audits another target only: the break stays open until commit 4 has it clean."""
    history = build_history(
        _entries(
            _at(1, _clean()),
            _at(2, _breaking()),
            _at(3, _clean("host/transformer")),
            _at(4, _clean(), _clean("host/transformer")),
        )
    )
    assert [(e.target, e.appeared, e.fixed) for e in history.events] == [("host/cnn", 1, 3)]
    assert history.target("host/cnn").points[2] is None
    assert "not in report" in history_markdown(history)


def test_a_speedup_drop_outside_both_cis_is_dated_on_its_workload():
    """2.0x -> 1.5x (CIs apart) at commit 2, back at commit 3: one event on the benchmark row."""
    name = "cnn-small/infer/bare"
    history = build_history(
        _entries(
            _at(1, _clean(), speedups=(benchmark(name, 2.0, 1.9, 2.1),)),
            _at(2, _clean(), speedups=(benchmark(name, 1.5, 1.4, 1.6),)),
            _at(3, _clean(), speedups=(benchmark(name, 1.95, 1.85, 2.05),)),
        )
    )
    assert [(e.target, e.kind, e.appeared, e.fixed) for e in history.events] == [
        (name, RegressionKind.SPEEDUP, 1, 2)
    ]
    assert history.events[0].subject == f"{name} [infer, default, fp32]"
    row = history.target(name)
    assert row.settings == ("infer, default, fp32",)
    assert [p.speedups[0].speedup.point for p in row.points] == [2.0, 1.5, 1.95]
    markdown = history_markdown(history)
    assert "| speedup [infer, default, fp32] |" in markdown
    assert "1.50x [1.40, 1.60]" in markdown


def test_speedups_on_another_device_neither_regress_nor_fix():
    """A CUDA report between CPU ones: its speedup is not compared, and a note says why."""
    name = "cnn-small/infer/bare"
    history = build_history(
        _entries(
            _at(1, speedups=(benchmark(name, 2.0, 1.9, 2.1),)),
            _at(2, speedups=(benchmark(name, 1.5, 1.4, 1.6),)),
            _at(3, speedups=(benchmark(name, 4.0, 3.9, 4.1),), device="cuda"),
            _at(4, speedups=(benchmark(name, 1.5, 1.4, 1.6),)),
            _at(5, speedups=(benchmark(name, 2.0, 1.9, 2.1),)),
        )
    )
    assert [(e.appeared, e.fixed) for e in history.events] == [(1, 4)]
    assert "3333333 against 2222222: speedups not compared (device kind cpu vs cuda)" in (
        history_text(history)
    )


def test_a_single_report_is_a_history_without_regressions(tmp_path, capsys):
    """One report: its figures, no regression, exit 0."""
    assert cli(_write_runs(tmp_path, _at(1, _clean()))) == 0
    printed = capsys.readouterr().out
    assert "No regression between consecutive reports" in printed
    assert "host/cnn" in printed and "1.25 s" in printed


def test_target_globs_keep_matching_rows_and_their_regressions(tmp_path, capsys):
    """--target 'host/t*' shows host/transformer only, and not host/cnn's regression."""
    runs = _write_runs(
        tmp_path,
        _at(1, _clean(), _clean("host/transformer")),
        _at(2, _breaking(), _clean("host/transformer")),
    )
    assert cli([*runs, "--target", "host/t*"]) == 0
    printed = capsys.readouterr().out
    assert "host/transformer" in printed and "host/cnn" not in printed


def test_without_matplotlib_the_history_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """No history.png (an older one is removed); history.md and the console say why."""
    monkeypatch.setattr(optional, "plots_available", lambda: False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.png").write_bytes(b"an older trend")
    assert cli([*_write_runs(tmp_path, _at(1, _clean())), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "history.md"]
    assert optional.PLOTS_MISSING in (out / "history.md").read_text()
    assert optional.PLOTS_MISSING in capsys.readouterr().out


def test_with_matplotlib_the_trend_is_a_png(tmp_path):
    """history.png is written beside history.md, which links it."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    runs = _write_runs(tmp_path, _at(1, _clean()), _at(2, _breaking()))
    assert cli([*runs, "--out", str(out)]) == 0
    assert (out / "history.png").read_bytes().startswith(b"\x89PNG")
    assert "![trend](history.png)" in (out / "history.md").read_text()


def _git(repo, *args, day: int = 1):
    stamp = f"2026-03-{day:02d}T12:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty git repository in tmp_path, with no user or system git config in play."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    (path / "reports").mkdir()
    return path


def _commit(repo, content: str, message: str, day: int) -> str:
    (repo / "reports" / "baseline.json").write_text(content)
    _git(repo, "add", "reports/baseline.json", day=day)
    _git(repo, "commit", "-q", "-m", message, day=day)
    return _git(repo, "rev-parse", "--short=7", "HEAD")


def test_git_reads_every_committed_version_labelled_with_its_commit(repo, monkeypatch, capsys):
    """Four commits of a baseline: the break appears at the 2nd, the corrupt 3rd is left out
    with a note, the 4th fixes it; labels are the commits, not the runs' shas."""
    first = _commit(repo, report_to_json(_at(1, _clean())), "baseline: first", 1)
    second = _commit(repo, report_to_json(_at(2, _breaking())), "baseline: a break", 2)
    third = _commit(repo, "{not json", "baseline: corrupt", 3)
    fourth = _commit(repo, report_to_json(_at(1, _clean())), "baseline: fixed", 4)
    monkeypatch.chdir(repo)
    assert cli(["--git", "reports/baseline.json", "--out", "out"]) == 0
    markdown = (repo / "out" / "history.md").read_text()
    assert _regressions_table(markdown) == [
        ["host/cnn", "new graph break", second, fourth, "graphs 1 -> 2, breaks 0 -> 1"]
    ]
    reports = markdown.split("## Regressions", 1)[0]
    assert [first, second, fourth] == [c for c in (first, second, third, fourth) if c in reports]
    assert f"{third} (baseline: corrupt): left out, not valid JSON" in markdown
    assert f"note: {third} (baseline: corrupt): left out" in capsys.readouterr().out


def test_git_with_a_run_folder_puts_them_on_one_time_line(repo, tmp_path, capsys):
    """--git FILE and a run folder: the run (day 5) comes after the commits (days 1-2)."""
    _commit(repo, report_to_json(_at(1, _clean())), "baseline: first", 1)
    second = _commit(repo, report_to_json(_at(2, _clean())), "baseline: second", 2)
    (run,) = _write_runs(tmp_path / "runs", _at(5, _breaking()))
    assert cli([run, "--git", str(repo / "reports" / "baseline.json")]) == 0
    printed = capsys.readouterr().out
    assert "5555555" in printed.split(second, 1)[1]  # listed after the second commit
    assert "appeared: new graph break" in printed


@pytest.mark.slow
def test_module_entry_point_runs():
    """`python -m audits.history --help` answers, as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "audits.history", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--git FILE" in done.stdout


def _stderr_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "give run directories or report.json files, or --git FILE"),
        (["{tmp}/missing"], "missing: not found"),
        (["{run}", "--threshold", "2"], "--threshold 2.0: must be a fraction in (0, 1)"),
        (["{run}", "--target", "nope/*"], "--target nope/*: matches no target; the reports have"),
        (["{run}", "--out", "{run}/report.json"], "exists and is not a directory"),
        (["--git", "{tmp}/elsewhere/base.json"], "not inside a git repository"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, expected):
    """Each mistake names the value and what is valid, on one line of stderr, exit 2."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "elsewhere").mkdir()
    (run,) = _write_runs(tmp_path, _at(1, _clean()))
    argv = [a.format(tmp=tmp_path, run=run) for a in argv]
    assert cli(argv) == 2
    line = _stderr_line(capsys)
    assert line.startswith("audits.history: error: ") and expected in line


def test_git_on_a_file_never_committed_lists_the_committed_ones(repo, capsys):
    """--git on a name git never saw: exit 2, naming the files committed beside it."""
    _commit(repo, report_to_json(_at(1, _clean())), "baseline: first", 1)
    assert cli(["--git", str(repo / "reports" / "cpu.json")]) == 2
    line = _stderr_line(capsys)
    assert "cpu.json: no commit holds this file" in line
    assert "files committed in" in line and "baseline.json" in line


def test_help_explains_inputs_outputs_and_examples(capsys):
    """--help names every flag, the files written and an example of --git."""
    with pytest.raises(SystemExit) as caught:
        cli(["--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    for expected in ("--git FILE", "--out DIR", "--target GLOB", "--threshold", "history.png"):
        assert expected in text
    assert "python -m audits.history --git reports/baseline/" in text


def test_history_csv_has_one_row_per_measured_metric():
    """Speedups carry their CI; a target absent from a report has no rows there."""
    name = "cnn-small/infer/bare"
    history = build_history(
        _entries(
            _at(1, _clean(), speedups=(benchmark(name, 2.0, 1.9, 2.1),)),
            _at(2, _clean("host/transformer")),
        )
    )
    rows = list(csv.DictReader(io.StringIO(history_csv(history))))
    speed = [r for r in rows if r["metric"].startswith("speedup")]
    assert [(r["target"], r["value"], r["low"], r["high"]) for r in speed] == [
        (name, "2.0", "1.9", "2.1")
    ]
    assert {r["commit"] for r in rows if r["target"] == "host/cnn"} == {"1111111"}


def test_a_regression_event_must_come_after_a_report():
    """An event at the first report, or fixed before it appeared, is refused."""
    with pytest.raises(ValueError, match="earlier entry, got 0"):
        RegressionEvent(target="t", subject="t", kind=RegressionKind.STATUS, detail="", appeared=0)
    with pytest.raises(ValueError, match="fixed at 2, not after it appeared at 2"):
        RegressionEvent(
            target="t", subject="t", kind=RegressionKind.STATUS, detail="", appeared=2, fixed=2
        )


def test_a_sha_that_reads_as_a_number_is_printed_as_it_is():
    """Commit 1234e10 stays 1234e10 in the console tables, not the float 1.234e+13."""
    env = dataclasses.replace(environment(), git_sha="1234e10" + "0" * 33)
    text = history_text(build_history(_entries(report(_clean(), env=env))))
    assert text.count("1234e10") == 3  # the reports table (commit, audited code) and the row
