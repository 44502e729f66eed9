"""A run's folder: reports/<UTC date-time>-<short sha>[-dirty]/, its files, reports/latest.

A run directory is claimed with mkdir, which fails if the name exists, so two runs can
never write into one directory and an old run is never overwritten. Into it go
report.json, then its renders: summary.txt, report.md, results.csv and the two PNGs.
`latest` is a relative symlink replaced atomically; where the file system refuses
symlinks it is a small text file holding the directory name instead.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from foundation.environment import EnvironmentRecord
from foundation.files import atomic_write_text
from reporting import optional
from reporting.console import render_summary
from reporting.csv_table import results_csv
from reporting.markdown import COMPILE_TIME_PNG, SPEEDUP_PNG, render_markdown
from reporting.schema.report import (
    LATEST,
    REPORT_JSON,
    RunReport,
    report_to_json,
    without_checkout_paths,
)

REPORTS_ROOT = Path("reports")  # relative to the working directory: run from the repo root
_MAX_SAME_SECOND = 100  # runs of one commit started in one second get -2, -3, ...
SUMMARY_TXT = "summary.txt"  # the console summary, as printed
REPORT_MD = "report.md"
RESULTS_CSV = "results.csv"
REPORT_FILES = (REPORT_JSON, SUMMARY_TXT, REPORT_MD, RESULTS_CSV, SPEEDUP_PNG, COMPILE_TIME_PNG)


class RunDirExistsError(FileExistsError):
    """The requested run directory already holds files."""


def run_dir_name(environment: EnvironmentRecord) -> str:
    """e.g. 20250301T141503Z-1a2b3c4-dirty: sorts by time, names the commit."""
    try:
        started = dt.datetime.strptime(environment.time_utc, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ValueError(
            f"environment time {environment.time_utc!r} is not UTC ISO 8601, "
            "like 2025-03-01T14:15:03Z"
        ) from None
    return f"{started:%Y%m%dT%H%M%SZ}-{environment.short_sha}"


def check_out_dir(out: Path | None) -> None:
    """Refuse, before the run, an --out that already holds files (RunDirExistsError)."""
    if out is not None and out.is_dir() and any(out.iterdir()):
        raise RunDirExistsError(f"{out} already holds files; a run directory is never overwritten")


def claim_run_dir(
    environment: EnvironmentRecord, out: Path | None = None, *, root: Path = REPORTS_ROOT
) -> Path:
    """Create and return the run's directory; refuse an `out` that already holds files."""
    if out is not None:
        check_out_dir(out)
        out.mkdir(parents=True, exist_ok=True)
        return out
    root.mkdir(parents=True, exist_ok=True)
    name = run_dir_name(environment)
    for attempt in range(1, _MAX_SAME_SECOND + 1):
        candidate = root / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunDirExistsError(f"{root / name}: {_MAX_SAME_SECOND} runs already claimed this name")


def update_latest(run_dir: Path, *, root: Path = REPORTS_ROOT) -> Path | None:
    """Point root/latest at `run_dir` when it lies directly in `root`; return the pointer."""
    if run_dir.resolve().parent != root.resolve():
        return None  # an --out elsewhere is not one of this folder's runs
    latest = root / LATEST
    if latest.is_dir() and not latest.is_symlink():
        raise FileExistsError(
            f"{latest} is a real directory; remove it to let runs point it at the newest"
        )
    staged = root / f".{LATEST}.{os.getpid()}.tmp"
    staged.unlink(missing_ok=True)
    try:
        os.symlink(run_dir.name, staged, target_is_directory=True)
    except (OSError, NotImplementedError):
        atomic_write_text(latest, run_dir.name + "\n")
        return latest
    try:
        os.replace(staged, latest)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return latest


def write_run_report(
    report: RunReport,
    run_dir: Path,
    *,
    root: Path = REPORTS_ROOT,
    checkout: Path | None = None,
    replace: bool = False,
    verbose: bool = False,
) -> str:
    """Write every report file into `run_dir` (from `claim_run_dir`), point `latest` at it,
    and return the console summary (`verbose`: every finding, not the first of each target).

    An existing file is an error unless `replace` (`--resume` completing its own partial
    report). Paths under `checkout` are written relative to it (see without_checkout_paths).
    """
    clashes = [name for name in REPORT_FILES if (run_dir / name).exists()]
    if clashes and not replace:
        raise FileExistsError(
            f"{run_dir} already holds {', '.join(clashes)}; a run's report is never overwritten"
        )
    summary = render_summary(report, str(run_dir), verbose=verbose)
    # Rendered and written one at a time, each atomically, report.json first: a rendering
    # bug in the others loses no data.
    for name, render in (
        (REPORT_JSON, report_to_json),
        (SUMMARY_TXT, lambda _report: summary),
        (REPORT_MD, render_markdown),
        (RESULTS_CSV, results_csv),
    ):
        atomic_write_text(run_dir / name, without_checkout_paths(render(report), checkout))
    if optional.plots_available():  # else report.md says why the charts are missing
        from reporting.plots import write_compile_time_png, write_speedup_png

        write_speedup_png(report, run_dir / SPEEDUP_PNG)
        write_compile_time_png(report, run_dir / COMPILE_TIME_PNG)
    update_latest(run_dir, root=root)
    return summary
