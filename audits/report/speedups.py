"""The speedups a report holds, from its benchmark run and from the audit's host targets.

The audit stores each host target's benchmark result already serialized (its
`TargetResult.benchmarks`); each is decoded here with the benchmarks codec. A result
that does not decode is kept as a note for the report rather than dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from audits.report.document import RunReport
from benchmarks import results as bench_results
from benchmarks.results import BenchmarkResult

SpeedupKey = tuple[str, str, str, str, str]  # name, task, mode, precision, backend


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportBenchmarks:
    results: tuple[BenchmarkResult, ...] = ()
    unreadable: tuple[str, ...] = ()  # "<target>: <why>" for audit results that did not decode


def compiled_setting(result: BenchmarkResult) -> str:
    """The mode, with the ladder rung when a ladder ran: several rungs share one mode."""
    if result.setting is None:
        return result.mode.value
    return f"{result.mode.value}: {result.setting}"


def speedup_key(result: BenchmarkResult) -> SpeedupKey:
    """What must match for two results to be the same measurement in two runs."""
    return (
        result.name,
        result.task,
        compiled_setting(result),
        result.precision.value,
        result.backend,
    )


def speedup_label(result: BenchmarkResult) -> str:
    return f"{result.name} [{result.task}, {compiled_setting(result)}, {result.precision.value}]"


def report_benchmarks(report: RunReport) -> ReportBenchmarks:
    """Benchmark results in report order: the benchmark run's first, then the audit's."""
    found: list[BenchmarkResult] = []
    unreadable: list[str] = []
    if report.benchmarks is not None:
        found.extend(report.benchmarks.results)
    if report.audit is not None:
        for target in report.audit.targets:
            for serialized in target.benchmarks:
                try:
                    found.append(bench_results.from_jsonable(BenchmarkResult, serialized))
                except (KeyError, TypeError, ValueError) as error:
                    unreadable.append(f"{target.name}: {type(error).__name__}: {str(error)[:160]}")
    return ReportBenchmarks(results=tuple(found), unreadable=tuple(unreadable))
