"""What audits.run and benchmarks.run call at their edges: the baseline before the run
(read first, so that a missing or corrupt one costs one line and exit 2, not a whole
audit), the report after it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from reporting import baseline as baselines
from reporting.regressions import DEFAULT_THRESHOLD
from reporting.rundir import REPORTS_ROOT, claim_run_dir, write_run_report
from reporting.rundir import check_out_dir as check_out_dir  # the runs check --out up front
from reporting.schema.report import RunReport


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselinePlan:
    """What the run does with a baseline, decided before it starts."""

    path: Path
    update: bool  # --update-baseline: write this run's report there instead of comparing
    threshold: float = DEFAULT_THRESHOLD
    baseline: RunReport | None = None  # read up front when comparing

    def __post_init__(self) -> None:
        if self.update == (self.baseline is not None):
            raise ValueError("a baseline plan either updates the file or holds the baseline read")


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    summary: str  # the console summary, as written to summary.txt
    exit_code: int  # 0, or 1 on a regression against the baseline


def prepare_baseline(
    spec: str | None,
    *,
    update: bool,
    device_kind: str,
    torch_version: str,
    threshold: float = DEFAULT_THRESHOLD,
) -> BaselinePlan | None:
    """None without --baseline/--update-baseline; ReportFormatError for an unusable baseline."""
    if spec is None and not update:
        return None
    if update:
        # `auto` never names the CPU file it falls back to when reading: a CUDA run that
        # updates writes its own device's baseline.
        own = baselines.BASELINE_DIR / baselines.baseline_name(device_kind, torch_version)
        path = own if spec in (None, baselines.AUTO) else Path(spec)
        return BaselinePlan(path=path, update=True, threshold=threshold)
    path = baselines.resolve_baseline(
        spec or baselines.AUTO, device_kind=device_kind, torch_version=torch_version
    )
    return BaselinePlan(
        path=path, update=False, threshold=threshold, baseline=baselines.load_baseline(path)
    )


def publish_report(
    report: RunReport,
    run_dir: Path,
    plan: BaselinePlan | None,
    *,
    root: Path = REPORTS_ROOT,
    replace: bool = False,
    verbose: bool = False,
) -> Published:
    """Write the report into the (claimed) `run_dir` and print its summary, then update the
    baseline or gate on it. `replace`: a resumed run rewrites its own partial report.
    """
    summary = write_run_report(report, run_dir, root=root, replace=replace, verbose=verbose)
    sys.stdout.write(summary)
    sys.stdout.flush()
    code = baselines.EXIT_OK
    if plan is not None and plan.update:
        print(f"baseline updated: {baselines.update_baseline(report, plan.path)}")
    elif plan is not None:
        assert plan.baseline is not None  # guaranteed by BaselinePlan.__post_init__
        code, _ = baselines.gate(plan.baseline, report, threshold=plan.threshold, run_dir=run_dir)
    return Published(summary=summary, exit_code=code)


def publish_benchmarks(
    report: RunReport, out: Path | None = None, *, root: Path = REPORTS_ROOT
) -> tuple[Path, str]:
    """For benchmarks.run: claim reports/<time>-<sha>/ (or `out`) and write the report there;
    the run directory and the console summary."""
    run_dir = claim_run_dir(report.environment, out, root=root)
    return run_dir, write_run_report(report, run_dir, root=root)
