"""report.md: the run as a person reads it, tables made with tabulate.

Rendering only: every figure comes from the RunReport. Sections: one summary line,
the environment, per-target compile status, breaks with location and hint, recompiles
with the failed guards, parity, exception parity, compile time, speedups with their CI,
and target errors.
"""

from __future__ import annotations

import math
from collections import Counter

from reporting import optional
from reporting.audit_tables import (
    breaks_table,
    compile_status_table,
    compile_time_table,
    device_faults_table,
    errors_table,
    exceptions_table,
    parity_table,
    recompiles_table,
)
from reporting.cells import DASH, seconds, table, text
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.report import RunReport
from reporting.speedups import report_benchmarks, speedup_label

SPEEDUP_PNG = "speedup.png"
COMPILE_TIME_PNG = "compile_time.png"


def _chart(title: str, png: str) -> str:
    return f"![{title}]({png})" if optional.plots_available() else f"({optional.PLOTS_MISSING}.)"


def _geomean(values: list[float]) -> float | None:
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def summary_line(report: RunReport) -> str:
    env = report.environment
    parts = []
    if report.audit is not None:
        counts = Counter(t.status.value for t in report.audit.targets)
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        failing = len(report.audit.failed_targets)
        verdict = "**FAIL**" if failing else "**PASS**"
        parts.append(
            f"{verdict}: {len(report.audit.targets)} targets ({tally or 'none'}), "
            f"{failing} failing --fail-on; backend {report.audit.config.backend}"
        )
    found = report_benchmarks(report)
    points = [r.speedup.point for r in found if r.speedup is not None]
    if points:
        mean = _geomean(points)
        parts.append(
            f"{len(points)} speedups, geomean {mean:.2f}x" if mean else f"{len(points)} speedups"
        )
    elif report.audit is not None:
        parts.append("no speedups measured")
    parts.append(
        f"{env.device_kind} {env.device_name}, torch {env.torch_version}, "
        f"git {env.short_sha}, {env.time_utc}"
    )
    return " · ".join(parts)


def environment_table(report: RunReport) -> str:
    env = report.environment
    rows = [
        ("torch", env.torch_version),
        ("python", env.python_version),
        ("platform", env.platform),
        ("device", f"{env.device_kind}: {env.device_name}"),
        ("CPU", f"{env.cpu_model} ({env.cpu_count} visible CPUs)"),
        ("threads", f"{env.threads} intra-op, {env.interop_threads} inter-op"),
        (
            "CUDA",
            f"{env.cuda_version or 'none'}, driver {env.cuda_driver or 'none'}, "
            f"capability {env.cuda_capability or '-'}",
        ),
        ("git", f"{env.git_sha or 'no git'}{' (dirty)' if env.git_dirty else ''}"),
        ("time (UTC)", env.time_utc),
    ]
    return table([(k, text(v)) for k, v in rows], ["", "value"])


def _speedup_row(r: BenchmarkResult) -> list[str]:
    if r.error is not None or r.speedup is None or r.eager is None or r.compiled is None:
        why = r.error.message if r.error else "no speedup"
        return [
            text(speedup_label(r), 70),
            r.backend,
            DASH,
            DASH,
            DASH,
            "ERROR: " + text(why, 80),
            DASH,
        ]
    s = r.speedup
    compile_cold = seconds(r.compile_time.cold_s) if r.compile_time else DASH
    return [
        text(speedup_label(r), 70),
        r.backend,
        f"{seconds(r.eager.summary.median)} (IQR {seconds(r.eager.summary.iqr)})",
        f"{seconds(r.compiled.summary.median)} (IQR {seconds(r.compiled.summary.iqr)})",
        f"{s.point:.2f}x",
        f"[{s.low:.2f}, {s.high:.2f}]",
        compile_cold,
    ]


def speedups_table(report: RunReport) -> str | None:
    found = report_benchmarks(report)
    if not found:
        return None
    headers = [
        "workload [task, mode, dtype]",
        "backend",
        "eager per call",
        "compiled per call",
        "speedup",
        "95% CI",
        "compile (cold cache)",
    ]
    return table([_speedup_row(r) for r in found], headers)


def goals_table(report: RunReport) -> str | None:
    if report.benchmarks is None or not report.benchmarks.goals:
        return None
    rows = [
        [g.goal, g.status.value.upper(), g.target, text(g.detail, 120)]
        for g in report.benchmarks.goals
    ]
    return table(rows, ["goal", "verdict", "target", "measured"])


def render_markdown(report: RunReport) -> str:
    """The whole report.md."""
    lines = [
        "# esper run report",
        "",
        summary_line(report),
        "",
        "## Environment",
        "",
        environment_table(report),
    ]

    def section(title: str, body: str | None, empty: str, note: str | None = None) -> None:
        lines.extend(["", f"## {title}", ""])
        if note:
            lines.extend([note, ""])
        lines.append(body if body is not None else empty)

    audit = report.audit
    if audit is not None:
        section(
            "Compile status",
            compile_status_table(audit),
            "No targets.",
            "`compiles/budget`: most compilations of one frame over the replay, "
            "against the target's budget.",
        )
        section("Graph breaks", breaks_table(audit), "No graph breaks.")
        section(
            "Recompiles",
            recompiles_table(audit),
            "No recompiles: every step compiled at most once.",
        )
        section("Parity", parity_table(audit), "No parity results.")
        section("Exception parity", exceptions_table(audit), "No bad inputs audited.")
        section(
            "Compile time",
            compile_time_table(audit),
            "No compile times.",
            f"One measurement per target (no CI). {_chart('compile time', COMPILE_TIME_PNG)}",
        )
    speedups = speedups_table(report)
    note = (
        "Speedup = median eager time / median compiled time, with a paired bootstrap 95 % CI. "
        f"{_chart('speedup', SPEEDUP_PNG)}"
    )
    section(
        "Speedups", speedups, "Not measured in this run (no benchmarks, or `--no-bench`).", note
    )
    goals = goals_table(report)
    if goals is not None:
        section("Benchmark goals", goals, "")
    if audit is not None:
        faults = device_faults_table(audit)
        if faults is not None:
            note = "The checks after each ran in a fresh process: CUDA is unusable after one."
            section("Device faults", faults, "", note)
        errors = errors_table(audit)
        if errors is not None:
            section("Errors", errors, "")
    return "\n".join(lines) + "\n"
