"""The report layer: render a run's results into reports/<run>/, compare runs, gate CI.

It only reads the producers' typed results (audits.results, benchmarks.results) and
never compiles. The pieces audits.run and benchmarks.run call:

    run_dir = claim_run_dir(environment, out)        # reports/<UTC time>-<sha>[-dirty]/
    write_run_report(RunReport(...), run_dir)        # report.json/.md, results.csv, PNGs
    code, _ = gate(load_baseline(path), report)      # regression report, exit 0/1

`python -m audits.compare BASE NEW` runs the same comparison on two saved reports.
"""

from audits.report.baseline import (
    AUTO,
    BASELINE_DIR,
    EXIT_BAD_BASELINE,
    EXIT_OK,
    EXIT_REGRESSION,
    baseline_name,
    gate,
    load_baseline,
    resolve_baseline,
    update_baseline,
)
from audits.report.document import ReportFormatError, RunReport, load_report
from audits.report.regressions import DEFAULT_THRESHOLD, RegressionReport, compare_reports
from audits.report.rundir import REPORTS_ROOT, RunDirExistsError, claim_run_dir, update_latest
from audits.report.write import write_run_report

__all__ = [
    "AUTO",
    "BASELINE_DIR",
    "DEFAULT_THRESHOLD",
    "EXIT_BAD_BASELINE",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "REPORTS_ROOT",
    "RegressionReport",
    "ReportFormatError",
    "RunDirExistsError",
    "RunReport",
    "baseline_name",
    "claim_run_dir",
    "compare_reports",
    "gate",
    "load_baseline",
    "load_report",
    "resolve_baseline",
    "update_baseline",
    "update_latest",
    "write_run_report",
]
