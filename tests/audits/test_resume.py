"""--resume refuses what it cannot finish (exit 2, one line naming the folder, nothing
changed) and takes the settings the interrupted run recorded."""

import json
from pathlib import Path

import pytest
import torch
from support.synthetic_reports import environment

from audits.options import build_parser, parse_config
from audits.run import cli
from reporting.schema.audit import AuditConfig, AuditRun, TargetResult, TargetStatus
from reporting.schema.report import RunReport, report_to_json


def _write_run(directory: Path, *statuses: TargetStatus) -> Path:
    run = AuditRun(
        config=AuditConfig(
            backend="aot_eager",
            device="cpu",
            quick=True,
            bench=False,
            jobs=1,
            threads_per_job=2,
            target_globs=("isolation/*",),
        ),
        targets=tuple(
            TargetResult(name=f"isolation/t{i}", group="isolation", status=s)
            for i, s in enumerate(statuses)
        ),
    )
    directory.mkdir(parents=True, exist_ok=True)
    report = RunReport(environment=environment(torch_version=torch.__version__), audit=run)
    (directory / "report.json").write_text(report_to_json(report))
    return directory


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _refused(argv: list[str], capsys) -> str:
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("audits.run: error: --resume ")
    return err


def test_resume_refuses_a_complete_run_and_changes_nothing(tmp_path, capsys):
    """A run with no target marked not run: exit 2, the folder named, its files unchanged."""
    run_dir = _write_run(tmp_path / "run", TargetStatus.PASSED, TargetStatus.FAILED)
    before = _snapshot(run_dir)
    err = _refused(["--resume", str(run_dir)], capsys)
    assert str(run_dir) in err and "the run is complete" in err
    assert _snapshot(run_dir) == before


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    """No report.json (or no folder at all): exit 2, saying so."""
    (tmp_path / "notes.txt").write_text("not a run\n")
    err = _refused(["--resume", str(tmp_path)], capsys)
    assert f"{tmp_path}: not an audit run folder (no report.json)" in err
    assert _snapshot(tmp_path) == {"notes.txt": b"not a run\n"}
    err = _refused(["--resume", str(tmp_path / "missing")], capsys)
    assert "not a directory" in err


def test_resume_refuses_another_schema_version(tmp_path, capsys):
    """A report.json of another schema is named with its version, and left alone."""
    run_dir = _write_run(tmp_path / "run", TargetStatus.NOT_RUN)
    data = json.loads((run_dir / "report.json").read_text())
    data["schema_version"] = 99
    (run_dir / "report.json").write_text(json.dumps(data))
    before = _snapshot(run_dir)
    err = _refused(["--resume", str(run_dir)], capsys)
    assert "version 99 is not 'esper.report' version 2" in err
    assert _snapshot(run_dir) == before


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--backend", "inductor"], "--backend ('inductor') conflicts with the run's recorded"),
        (["--targets", "host/*"], "--targets ((host/*)) conflicts"),
        (["--dtype", "bf16"], "--dtype ('bf16') conflicts"),
        (["--out", "elsewhere"], "drop --out elsewhere"),
    ],
)
def test_resume_refuses_flags_that_contradict_the_recorded_settings(tmp_path, capsys, flags, named):
    """A setting given with --resume that differs from the recorded one is refused."""
    run_dir = _write_run(tmp_path / "run", TargetStatus.PASSED, TargetStatus.NOT_RUN)
    before = _snapshot(run_dir)
    err = _refused(["--resume", str(run_dir), *flags], capsys)
    assert named in err
    assert _snapshot(run_dir) == before


def test_resume_takes_the_recorded_settings_and_accepts_repeating_them(tmp_path):
    """Repeating a recorded value (or auto) is no conflict; the recorded settings are used."""
    run_dir = _write_run(tmp_path / "run", TargetStatus.PASSED, TargetStatus.NOT_RUN)
    argv = ["--resume", str(run_dir), "--quick", "--targets", "isolation/*", "--device", "auto"]
    config = parse_config([*argv, "-v", "--baseline", "b.json"])
    assert config.resume == str(run_dir) and config.out == str(run_dir)
    assert (config.backend, config.device, config.jobs, config.bench) == (
        "aot_eager",
        "cpu",
        1,
        False,
    )
    assert config.target_globs == ("isolation/*",) and config.threads_per_job == 2
    assert config.verbose and config.baseline == "b.json"  # these act after the targets ran


def test_help_explains_interrupts_and_resume():
    """--help names --resume, what it rewrites, and the exit codes 130 and 143."""
    text = build_parser().format_help()
    assert "--resume DIR" in text and "not run" in text
    assert "130" in text and "143" in text
