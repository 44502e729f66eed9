"""The committed baseline: which file, how it is refreshed, and gating a run against it.

A baseline is a report.json kept under reports/baseline/<device>-torch<version>.json.
Only `--update-baseline` writes it. Reading it never changes it: a missing, corrupt or
other-schema file is a one-line `ReportFormatError`, which the CLIs turn into exit 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from foundation.files import atomic_write_text
from foundation.hardware import hardware_class
from reporting import regressions
from reporting.regressions import DEFAULT_THRESHOLD, RegressionReport
from reporting.rundir import REPORTS_ROOT
from reporting.schema.report import (
    ReportFormatError,
    RunReport,
    load_report,
    report_to_json,
    without_checkout_paths,
)

BASELINE_DIR = REPORTS_ROOT / "baseline"
AUTO = "auto"
COMPARISON_MD = "comparison.md"  # the regression report's copy inside the new run's directory

# Exit codes shared by audits.run --baseline and audits.compare.
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_BASELINE = 0, 1, 2


def baseline_device(device: str, device_name: str | None = None) -> str:
    """The device part of a baseline's name: cpu, cuda-<hardware class>, or cuda.

    Timings differ between GPU classes, so a CUDA baseline is kept per class
    (cuda-hopper-torch2.11.0.json serves an H100 and an H200 alike).
    """
    if device != "cuda" or device_name is None:
        return device
    found = hardware_class(device_name)
    return "cuda" if found is None else f"cuda-{found.value}"


def baseline_name(device_kind: str, torch_version: str) -> str:
    """e.g. cpu-torch2.13.0.json, cuda-hopper-torch2.11.0.json; a local tag (+cu130) is dropped."""
    return f"{device_kind}-torch{torch_version.split('+', 1)[0]}.json"


def resolve_baseline(
    spec: str, *, device_kind: str, torch_version: str, directory: Path = BASELINE_DIR
) -> Path:
    """The baseline file `--baseline` names; `auto` picks this device's, else the CPU one."""
    if spec != AUTO:
        return Path(spec)
    own = directory / baseline_name(device_kind, torch_version)
    cpu = directory / baseline_name("cpu", torch_version)
    return own if own.exists() or not cpu.exists() else cpu


def load_baseline(path: Path) -> RunReport:
    """Read the baseline; a ReportFormatError says in one line what is wrong with it."""
    try:
        return load_report(path)
    except ReportFormatError as error:
        raise ReportFormatError(f"baseline {error}") from None


def update_baseline(report: RunReport, path: Path, *, checkout: Path | None = None) -> Path:
    """Replace the baseline with this run's report, atomically.

    The baseline is committed, so absolute paths of this checkout (torch quotes them in
    error messages) are made relative to it: the file reads the same on every machine.
    """
    atomic_write_text(path, without_checkout_paths(report_to_json(report), checkout))
    return path


def gate(
    baseline: RunReport,
    report: RunReport,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    run_dir: Path | None = None,
    stdout: TextIO | None = None,
) -> tuple[int, RegressionReport]:
    """Compare and print the markdown, also appended to the file GitHub Actions names in
    $GITHUB_STEP_SUMMARY and written to `run_dir`; 1 on regression."""
    result = regressions.compare_reports(baseline, report, threshold)
    markdown = regressions.render_regressions(result)
    print(markdown, end="", file=stdout or sys.stdout)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    try:
        if step_summary:
            with Path(step_summary).open("a", encoding="utf-8") as handle:  # other steps too
                handle.write(markdown + "\n")
    except OSError as error:  # a CI misconfiguration must not hide the verdict printed above
        print(f"warning: could not append to $GITHUB_STEP_SUMMARY: {error}", file=sys.stderr)
    if run_dir is not None:
        atomic_write_text(run_dir / COMPARISON_MD, markdown)
    return (EXIT_REGRESSION if result.regressed else EXIT_OK), result
