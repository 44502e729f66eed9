"""Write a run's report directory: report.json, then its renders: summary.txt, report.md,
results.csv and the two PNGs."""

from __future__ import annotations

from pathlib import Path

from foundation.files import atomic_write_text
from reporting import optional
from reporting.console import render_summary
from reporting.csv_table import results_csv
from reporting.markdown import COMPILE_TIME_PNG, SPEEDUP_PNG, render_markdown
from reporting.rundir import REPORTS_ROOT, update_latest
from reporting.schema.report import REPORT_JSON, RunReport, report_to_json, without_checkout_paths

SUMMARY_TXT = "summary.txt"  # the console summary, as printed
REPORT_MD = "report.md"
RESULTS_CSV = "results.csv"
REPORT_FILES = (REPORT_JSON, SUMMARY_TXT, REPORT_MD, RESULTS_CSV, SPEEDUP_PNG, COMPILE_TIME_PNG)


def write_run_report(
    report: RunReport,
    run_dir: Path,
    *,
    root: Path = REPORTS_ROOT,
    checkout: Path | None = None,
    replace: bool = False,
    verbose: bool = False,
) -> str:
    """Write every report file into `run_dir` (from `claim_run_dir`) and point `latest` at it.

    report.json goes first, so a rendering bug loses no data. Each file is written
    atomically; a file that already exists is an error rather than overwritten, unless
    `replace` (`audits.run --resume` completing that run's own partial report). Paths
    under `checkout` (default: the working directory) are written relative to it, so that
    a report can be committed (reports/matrix/) as it is. Returns the console summary
    (summary.txt; `verbose`: every finding, not only the first of each failing target).
    """
    clashes = [name for name in REPORT_FILES if (run_dir / name).exists()]
    if clashes and not replace:
        raise FileExistsError(
            f"{run_dir} already holds {', '.join(clashes)}; a run's report is never overwritten"
        )
    # One at a time, report.json first: a rendering bug in the others loses no data.
    summary = render_summary(report, str(run_dir), verbose=verbose)
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
