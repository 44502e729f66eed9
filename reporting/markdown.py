"""report.md: the run as a person reads it, a section per table.

Rendering only: every figure comes from the RunReport, and every table is the one the
console shows (reporting.audit_tables, reporting.bench_table) with all its columns.
"""

from __future__ import annotations

import math
from collections import Counter

from reporting import audit_tables as audit_view
from reporting import bench_table, extra_checks, optional
from reporting.schema.report import RunReport
from reporting.speedups import report_benchmarks
from reporting.tables import Table, table

SPEEDUP_PNG = "speedup.png"
COMPILE_TIME_PNG = "compile_time.png"


def _chart(title: str, png: str) -> str:
    return f"![{title}]({png})" if optional.plots_available() else f"({optional.PLOTS_MISSING}.)"


def _geomean(values: list[float]) -> float | None:
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, positive)) / len(positive)) if positive else None


def summary_line(report: RunReport) -> str:
    env, audit = report.environment, report.audit
    parts = []
    if audit is not None:
        counts = Counter(t.status.value for t in audit.targets)
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        failing = len(audit.failed_targets)
        parts.append(
            f"{'**FAIL**' if failing else '**PASS**'}: {len(audit.targets)} targets "
            f"({tally or 'none'}), {failing} failing --fail-on; backend {audit.config.backend}"
        )
    points = [r.speedup.point for r in report_benchmarks(report) if r.speedup is not None]
    if points:
        mean = _geomean(points)
        parts.append(
            f"{len(points)} speedups, geomean {mean:.2f}x" if mean else f"{len(points)} speedups"
        )
    elif audit is not None:
        parts.append("no speedups measured")
    parts.append(
        f"{env.device_kind} {env.device_name}, torch {env.torch_version}, "
        f"git {env.short_sha}, {env.time_utc}"
    )
    return " · ".join(parts)


def environment_table(report: RunReport) -> Table | None:
    env = report.environment
    cuda = (
        f"{env.cuda_version or 'none'}, driver {env.cuda_driver or 'none'}, "
        f"capability {env.cuda_capability or '-'}"
    )
    rows = [
        ("torch", env.torch_version),
        ("python", env.python_version),
        ("platform", env.platform),
        ("device", f"{env.device_kind}: {env.device_name}"),
        ("CPU", f"{env.cpu_model} ({env.cpu_count} visible CPUs)"),
        ("threads", f"{env.threads} intra-op, {env.interop_threads} inter-op"),
        ("CUDA", cuda),
        ("git", f"{env.git_sha or 'no git'}{' (dirty)' if env.git_dirty else ''}"),
        ("time (UTC)", env.time_utc),
    ]
    return table(" | value", rows)


def render_markdown(report: RunReport) -> str:
    """The whole report.md."""
    lines = ["# esper run report", "", summary_line(report)]

    def section(title: str, body: Table | None, empty: str = "", note: str = "") -> None:
        if body is not None or empty:
            lines.extend(["", f"## {title}", "", *([note, ""] if note else [])])
            lines.append(body.markdown() if body is not None else empty)

    section("Environment", environment_table(report))
    audit = report.audit
    if audit is not None:
        note = (
            "`compiles/budget`: most compilations of one frame over the replay, "
            "against the target's budget."
        )
        section("Compile status", audit_view.targets_table(audit), "No targets.", note)
        section("Graph breaks", audit_view.breaks_table(audit), "No graph breaks.")
        empty = "No recompiles: every step compiled at most once."
        section("Recompiles", audit_view.recompiles_table(audit), empty)
        section("Parity", audit_view.parity_table(audit), "No parity results.")
        section("Exception parity", audit_view.exceptions_table(audit), "No bad inputs audited.")
        section("Guard comparison", audit_view.guards_table(audit))
        note = (
            "`compiles/budget`: most compilations of one frame over the sweep; the budget is "
            "the first compile, one when the dims turn dynamic and one for size 1."
        )
        section("Shapes (--shapes)", extra_checks.shapes_table(audit), note=note)
        section("Export (--export)", extra_checks.export_table(audit))
        note = "Each process is a fresh interpreter; only a miss after the cold one fails."
        section("Compile caches (--cache)", extra_checks.cache_table(audit), note=note)
        section("CUDA graphs (--cudagraphs)", extra_checks.cudagraphs_table(audit))
        note = "2 ranks on CPU with gloo; diffs against the unwrapped eager module."
        section("Distributed (--distributed)", extra_checks.distributed_table(audit), note=note)
        note = f"One measurement per target (no CI). {_chart('compile time', COMPILE_TIME_PNG)}"
        section("Compile time", audit_view.compile_time_table(audit), "No compile times.", note)
    note = (
        "Speedup = median eager time / median compiled time, with a paired bootstrap 95 % CI. "
        f"{_chart('speedup', SPEEDUP_PNG)}"
    )
    empty = "Not measured in this run (no benchmarks, or `--no-bench`)."
    section("Speedups", bench_table.speedups_table(report_benchmarks(report)), empty, note)
    bench = report.benchmarks
    if bench is not None:
        section("Ladder", bench_table.ladder_table(bench, report.environment))
        costs = bench_table.comparisons_table(bench)
        section("Slot and seed costs", costs, note=bench_table.COSTS_NOTE.capitalize() + ".")
        section("Benchmark goals", bench_table.goals_table(bench))
    if audit is not None:
        note = "The checks after each ran in a fresh process: CUDA is unusable after one."
        section("Device faults", audit_view.device_faults_table(audit), note=note)
        section("Errors", audit_view.errors_table(audit))
    return "\n".join(lines) + "\n"
