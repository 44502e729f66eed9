"""python -m audits.matrix: merging reports of several torch releases, on synthetic reports."""

import dataclasses
import io
import json

import pandas as pd
import pytest
from support.synthetic_reports import (
    benchmark,
    benchmark_run,
    breaks,
    environment,
    exceptions,
    graph_break,
    recompiles,
    report,
    target,
)

from audits.matrix import build_parser, cli
from reporting.matrix_tables import matrix_csv, matrix_markdown
from reporting.schema.audit import CheckStatus, ErrorInfo, FullgraphResult, TargetStatus
from reporting.schema.report import RunReport, report_to_dict, report_to_json
from reporting.version_matrix import build_matrix, summarize, torch_release


def _broken(name: str) -> object:
    """A target that graph-breaks: fullgraph fails, one break."""
    return target(
        name,
        status=TargetStatus.FAILED,
        fullgraph=FullgraphResult(status=CheckStatus.FAILED, error_type="Unsupported"),
        breaks=breaks(graph_break()),
    )


def _recompiling(name: str) -> object:
    return target(name, status=TargetStatus.FAILED, recompiles=recompiles(compiles=3, budget=1))


def _raising(name: str) -> object:
    return target(name, status=TargetStatus.FAILED, exceptions=exceptions(type_matches=False))


def _release(version: str, *targets: object) -> RunReport:
    return report(*targets, env=environment(torch_version=version))  # type: ignore[arg-type]


@pytest.fixture
def three_releases():
    """2.13.0 given first: only numeric ordering puts it last."""
    return [
        (
            "new",
            _release(
                "2.13.0+cpu",
                target("steady"),
                target("fixed"),
                target("flaky"),
                _raising("raises"),
                target("added"),
            ),
        ),
        (
            "old",
            _release(
                "2.5.1+cu124",
                target("steady"),
                _broken("fixed"),
                target("flaky"),
                _raising("raises"),
                target("dropped"),
            ),
        ),
        (
            "mid",
            _release(
                "2.9.1+cu128",
                target("steady"),
                target("fixed"),
                _recompiling("flaky"),
                _raising("raises"),
                target("added"),
            ),
        ),
    ]


def test_releases_are_ordered_numerically_not_as_strings():
    """2.5.1 < 2.9.1 < 2.13.0, whatever order the reports come in; local tags are dropped."""
    assert sorted(["2.13.0", "2.9.1", "2.5.1"], key=torch_release) == ["2.5.1", "2.9.1", "2.13.0"]
    assert torch_release("2.13.0+cpu") == (2, 13, 0)
    assert torch_release("2.6.0.dev20241001+cu124") == (2, 6, 0)
    assert torch_release("2.7") == (2, 7, 0)


def test_merge_orders_releases_and_keeps_every_target(three_releases):
    """One column per report, oldest first; targets in the newest report's order."""
    matrix = build_matrix(three_releases)
    assert [r.name for r in matrix.releases] == ["2.5.1", "2.9.1", "2.13.0"]
    assert [r.torch_version for r in matrix.releases] == [
        "2.5.1+cu124",
        "2.9.1+cu128",
        "2.13.0+cpu",
    ]
    assert [t.name for t in matrix.targets] == [
        "steady",
        "fixed",
        "flaky",
        "raises",
        "added",
        "dropped",  # only under 2.5.1: after the newest report's targets
    ]
    assert matrix.releases[0].cell("added") is None  # not audited under 2.5.1
    fixed = matrix.releases[0].cell("fixed")
    assert fixed.fullgraph_ok is False and fixed.graph_breaks == 1 and not fixed.clean


def test_first_clean_release_is_the_start_of_the_clean_streak(three_releases):
    """Clean in every newer release from there on: a regression restarts the count."""
    matrix = build_matrix(three_releases)
    first = {t.name: matrix.first_clean(t.name) for t in matrix.targets}
    assert first["steady"].name == "2.5.1"
    assert first["fixed"].name == "2.9.1"
    assert first["flaky"].name == "2.13.0"  # clean in 2.5.1, recompiles in 2.9.1
    assert first["raises"] is None
    assert first["added"].name == "2.9.1"  # not audited under 2.5.1
    assert first["dropped"] is None  # not audited in the newer releases
    assert matrix.all_clean_from() is None  # "raises" is never clean


def test_all_clean_from_is_the_newest_first_clean_release(three_releases):
    """With every audited target clean somewhere, support starts at the latest first-clean."""
    label, newest = three_releases[0]
    fixed = tuple(target("raises") if t.name == "raises" else t for t in newest.audit.targets)
    runs = [
        (label, dataclasses.replace(newest, audit=dataclasses.replace(newest.audit, targets=fixed)))
    ]
    runs += three_releases[1:]
    assert build_matrix(runs).all_clean_from().name == "2.13.0"
    informational = target("guard", informational=True, status=TargetStatus.FAILED)
    clean_only = [("a", _release("2.5.1", target("steady"), informational))]
    assert build_matrix(clean_only).all_clean_from().name == "2.5.1"  # info never blocks


def test_markdown_has_a_row_per_release_and_a_cell_per_target(three_releases):
    """matrix.md: the verdict, per-release totals, per-target cells and first clean release."""
    text = matrix_markdown(build_matrix(three_releases))
    assert "**No release audited has every target clean** (newest: 2.13.0)" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| target "))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "target",
        "2.5.1",
        "2.9.1",
        "2.13.0",
        "first clean",
    ]

    def row(first: str) -> list[str]:
        found = next(line for line in lines if line.startswith(f"| {first} "))
        return [c.strip() for c in found.strip("|").split("|")]

    assert row("fixed") == ["fixed", "no fullgraph, 1 break", "clean", "clean", "2.9.1"]
    assert row("flaky") == ["flaky", "clean", "compiles 3/1", "clean", "2.13.0"]
    assert row("raises")[1:] == ["exceptions 0/1 same"] * 3 + ["not clean in 2.13.0"]
    assert row("added")[1] == "not audited"
    old = row("2.5.1+cu124")
    assert old[1:4] == ["**3/5**", "4/5", "1 in 1 targets"]
    assert old[6:8] == ["5/5", "4/5 cases same"]
    mid = row("2.9.1+cu128")
    assert mid[4:6] == ["2", "1"]  # recompiles beyond the first compile, targets over budget


def test_csv_has_one_row_per_release_and_target(three_releases):
    """matrix.csv reads back with pandas: typed columns, first clean repeated per target."""
    frame = pd.read_csv(
        pd.io.common.StringIO(matrix_csv(build_matrix(three_releases))),
        dtype={"torch_release": str},
    )
    assert len(frame) == 3 * 6
    assert list(frame["torch_release"].unique()) == ["2.5.1", "2.9.1", "2.13.0"]
    fixed = frame[frame.target == "fixed"].set_index("torch_release")
    assert fixed.loc["2.5.1", "fullgraph_ok"] == False  # noqa: E712 - a CSV boolean
    assert fixed.loc["2.5.1", "graph_breaks"] == 1
    assert set(fixed["first_clean"]) == {"2.9.1"}
    added = frame[(frame.target == "added") & (frame.torch_release == "2.5.1")].iloc[0]
    assert not added["audited"] and pd.isna(added["status"])
    flaky = frame[(frame.target == "flaky") & (frame.torch_release == "2.9.1")].iloc[0]
    assert flaky["max_frame_compiles"] == 3 and flaky["recompile_budget"] == 1


def test_cli_writes_matrix_md_and_csv(three_releases, tmp_path, capsys):
    """Exit 0; both files in --out, and one line naming the releases."""
    paths = []
    for label, run in three_releases:
        path = tmp_path / f"{label}.json"
        path.write_text(report_to_json(run))
        paths.append(str(path))
    out = tmp_path / "matrix"
    assert cli([*paths, "--out", str(out)]) == 0
    assert (out / "matrix.md").read_text().startswith("# torch compatibility matrix")
    assert (out / "matrix.csv").read_text().startswith("torch_release,torch_version,target,")
    assert "torch 2.5.1, 2.9.1, 2.13.0" in capsys.readouterr().out


def test_help_documents_every_flag(capsys):
    """--help exits 0 and every argument has its own help text."""
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    assert "--out" in capsys.readouterr().out
    assert all(action.help for action in build_parser()._actions)


def _write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing", None, "not found"),
        ("corrupt", "{not json", "not valid JSON"),
        ("other", {"schema": "something.else", "schema_version": 1}, "is not 'esper.report'"),
        (
            "bench_only",
            report_to_dict(
                RunReport(environment=environment(), benchmarks=benchmark_run(benchmark()))
            ),
            "holds no audit",
        ),
        (
            "same_release",
            report_to_dict(_release("2.13.0+cu128", target())),
            "both audit torch 2.13.0",
        ),
        (
            "other_backend",
            report_to_dict(
                report(target(), env=environment(torch_version="2.9.1"), backend="aot_eager")
            ),
            "different backend/device/dtype",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(name, content, expected, tmp_path, capsys):
    """Each unusable report names its file and the problem on one stderr line; nothing written."""
    good = _write(tmp_path / "good.json", report_to_json(_release("2.13.0+cpu", target())))
    bad = tmp_path / f"{name}.json"
    if content is not None:
        _write(bad, content)
    out = tmp_path / "out"
    assert cli([good, str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("audits.matrix: error:")
    assert expected in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], "REPORT"), (["x.json", "--no-such-flag"], "unrecognized")],
)
def test_bad_usage_is_one_line_and_exit_2(argv, expected, capsys):
    """No report, or an unknown flag: exit 2 and a single line."""
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err


def test_an_errored_target_is_named_by_its_exception_and_counts_nowhere():
    """A target whose audit raised shows 'error: <type>', and passes no check in the totals."""
    errored = target(
        "host/cnn",
        status=TargetStatus.ERROR,
        error=ErrorInfo(type="TypeError", message="boom"),
        fullgraph=None,
        breaks=None,
        recompiles=None,
        parity=None,
        exceptions=None,
    )
    matrix = build_matrix([("a", _release("2.5.1", errored, target("host/gpt")))])
    text = " ".join(matrix_markdown(matrix).split())
    assert "| host/cnn | error: TypeError | not clean in 2.5.1 |" in text
    summary = summarize(matrix, matrix.releases[0])
    assert (summary.clean, summary.fullgraph_ok, summary.parity_ok, summary.broken) == (1, 1, 1, 1)


def test_apis_a_release_lacks_are_named_per_release_and_per_target():
    """A check's "not available in torch X" note shows in matrix.md and matrix.csv."""
    from reporting.schema.basics import not_available
    from reporting.schema.cache import CacheResult
    from reporting.schema.export import ExportResult
    from reporting.schema.vocabulary import Task

    missing = "torch.export.draft_export"
    old = target("exported")
    old = dataclasses.replace(
        old,
        export=ExportResult(
            status=CheckStatus.FAILED, mode=Task.INFER, draft_note=not_available(missing, "2.6.0")
        ),
        cache=CacheResult(status=CheckStatus.PASSED, mega_cache_note="it raised OSError"),
    )
    old_report = _release("2.6.0", old)
    old_report = dataclasses.replace(
        old_report,
        audit=dataclasses.replace(old_report.audit, missing_apis=("torch.compiler.set_stance",)),
    )
    matrix = build_matrix([("old", old_report), ("new", _release("2.13.0", target("exported")))])
    # The cache note names no API: only the export note and the audit's record count.
    expected = ("torch.compiler.set_stance", missing)
    assert [r.missing_apis for r in matrix.releases] == [expected, ()]
    old_row, new_row = [
        line
        for line in matrix_markdown(matrix).splitlines()
        if line.startswith(("| 2.6.0", "| 2.13.0"))
    ]
    assert missing in old_row and missing not in new_row
    frame = pd.read_csv(io.StringIO(matrix_csv(matrix)))
    assert frame["missing_apis"].tolist()[0] == missing
    assert frame["missing_apis"].isna().tolist() == [False, True]


def test_hazards_are_counted_apart_from_the_releases_own_targets():
    """A detected hazard (passed, with planted breaks) adds to *hazards detected* only."""
    hazard = _broken("hazard/print_in_forward")
    hazard = dataclasses.replace(
        hazard, status=TargetStatus.PASSED, expected_flags=hazard.flagged or ("fullgraph",)
    )
    missed = dataclasses.replace(
        _recompiling("hazard/dict_building"), expected_flags=("recompiles",)
    )
    matrix = build_matrix([("a", _release("2.13.0", target("host/cnn"), hazard, missed))])
    summary = summarize(matrix, matrix.releases[0])
    assert (summary.targets, summary.clean, summary.graph_breaks, summary.over_budget) == (
        1,
        1,
        0,
        0,
    )
    assert (summary.hazards, summary.hazards_detected) == (2, 1)
    row = next(line for line in matrix_markdown(matrix).splitlines() if line.startswith("| 2.13"))
    assert "| 1/2 " in row
