"""The speedups a report holds, from its benchmark run and from the audit's host targets."""

from __future__ import annotations

from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.report import RunReport

SpeedupKey = tuple[str, str, str, str, str]  # name, task, mode, precision, backend


def compiled_setting(r: BenchmarkResult) -> str:
    """The mode, with the ladder rung when a ladder ran: several rungs share one mode."""
    return r.mode.value if r.setting is None else f"{r.mode.value}: {r.setting}"


def speedup_key(r: BenchmarkResult) -> SpeedupKey:
    """What must match for two results to be the same measurement in two runs."""
    return (r.name, r.task.value, compiled_setting(r), r.precision.value, r.backend)


def speedup_label(r: BenchmarkResult) -> str:
    return f"{r.name} [{r.task.value}, {compiled_setting(r)}, {r.precision.value}]"


def report_benchmarks(report: RunReport) -> tuple[BenchmarkResult, ...]:
    """Benchmark results in report order: the benchmark run's first, then the audit's."""
    run, audit = report.benchmarks, report.audit
    audited = [r for t in audit.targets for r in t.benchmarks] if audit is not None else []
    return (*(run.results if run is not None else ()), *audited)
