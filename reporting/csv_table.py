"""results.csv: one row per target × metric, in long form for pandas and spreadsheets.

Written with the standard csv module, so a plain `pip install` writes it too.

Columns: source (audit or benchmark), target, group, status, metric, value, low, high,
interval (what low/high are: "ci95", "iqr" or empty) and unit. A metric a target did not
produce has no row, rather than an empty one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from reporting.schema.audit import CheckStatus, TargetResult
from reporting.schema.report import RunReport
from reporting.speedups import compiled_setting, report_benchmarks

COLUMNS = (
    "source",
    "target",
    "group",
    "status",
    "metric",
    "value",
    "low",
    "high",
    "interval",
    "unit",
)
Row = dict[str, Any]


def _row(
    metric: str,
    value: float | int | None,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    interval: str = "",
) -> Row | None:
    if value is None:
        return None
    return {
        "metric": metric,
        "value": value,
        "low": low,
        "high": high,
        "interval": interval,
        "unit": unit,
    }


def _audit_metrics(t: TargetResult) -> Iterator[Row | None]:
    if t.fullgraph is not None:
        yield _row("fullgraph_ok", int(t.fullgraph.status is CheckStatus.PASSED), "bool")
    if t.breaks is not None:
        yield _row("graphs", t.breaks.graph_count, "count")
        yield _row("graph_breaks", t.breaks.break_count, "count")
        yield _row("distinct_breaks", len(t.breaks.breaks), "count")
    if t.recompiles is not None:
        yield _row("compiles", t.recompiles.total_compiles, "count")
        yield _row("max_frame_compiles", t.recompiles.max_frame_compiles, "count")
        yield _row("recompile_budget", t.recompiles.budget, "count")
    if t.parity is not None:
        yield _row("parity_max_abs", t.parity.worst_abs)
        yield _row("parity_max_rel", t.parity.worst_rel)
    if t.exceptions is not None and t.exceptions.cases:
        cases = t.exceptions.cases
        yield _row("exception_cases", len(cases), "count")
        yield _row(
            "exception_mismatches",
            sum(not (c.type_matches and c.message_matches) for c in cases),
            "count",
        )
    if t.compile_time is not None:
        yield _row("compile_first_call", t.compile_time.first_call_s, "s")
        yield _row("compile_first_backward", t.compile_time.first_backward_s, "s")
        yield _row("steady_call", t.compile_time.steady_state_s, "s")
    yield _row("duration", t.duration_s, "s")


def results_rows(report: RunReport) -> list[Row]:
    rows: list[Row] = []
    if report.audit is not None:
        for t in report.audit.targets:
            base = {"source": "audit", "target": t.name, "group": t.group, "status": t.status.value}
            rows.extend({**base, **m} for m in _audit_metrics(t) if m is not None)
    for r in report_benchmarks(report):
        base = {
            "source": "benchmark",
            "target": f"{r.name}:{r.task.value}:{compiled_setting(r)}:{r.precision.value}",
            "group": r.group,
            "status": "error" if r.error else "ok",
        }
        metrics: list[Row | None] = []
        if r.speedup is not None:
            metrics.append(
                _row("speedup", r.speedup.point, "x", r.speedup.low, r.speedup.high, "ci95")
            )
        for side, timing in (("eager", r.eager), ("compiled", r.compiled)):
            if timing is not None:
                s = timing.summary
                metrics.append(_row(f"{side}_median_call", s.median, "s", s.q1, s.q3, "iqr"))
                metrics.append(
                    _row(f"{side}_throughput", timing.throughput(r.items_per_call), r.unit)
                )
        if r.compile_time is not None:
            metrics.append(_row("compile_cold_cache", r.compile_time.cold_s, "s"))
            metrics.append(_row("compile_warm_cache", r.compile_time.warm_s, "s"))
        metrics.append(_row("mfu_compiled", r.mfu_compiled, "fraction"))
        rows.extend({**base, **m} for m in metrics if m is not None)
    return rows


def results_csv(report: RunReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(results_rows(report))
    return out.getvalue()
