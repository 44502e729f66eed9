"""The speedups a report holds, from its benchmark run and from the audit's host targets."""

from __future__ import annotations

from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.report import RunReport

SpeedupKey = tuple[str, str, str, str, str]  # name, task, mode, precision, backend


def compiled_setting(result: BenchmarkResult) -> str:
    """The mode, with the ladder rung when a ladder ran: several rungs share one mode."""
    if result.setting is None:
        return result.mode.value
    return f"{result.mode.value}: {result.setting}"


def speedup_key(result: BenchmarkResult) -> SpeedupKey:
    """What must match for two results to be the same measurement in two runs."""
    return (
        result.name,
        result.task.value,
        compiled_setting(result),
        result.precision.value,
        result.backend,
    )


def speedup_label(result: BenchmarkResult) -> str:
    setting = compiled_setting(result)
    return f"{result.name} [{result.task.value}, {setting}, {result.precision.value}]"


def report_benchmarks(report: RunReport) -> tuple[BenchmarkResult, ...]:
    """Benchmark results in report order: the benchmark run's first, then the audit's."""
    found: list[BenchmarkResult] = []
    if report.benchmarks is not None:
        found.extend(report.benchmarks.results)
    if report.audit is not None:
        for target in report.audit.targets:
            found.extend(target.benchmarks)
    return tuple(found)
