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

from reporting.schema.audit import CheckStatus, TargetResult
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.report import RunReport
from reporting.speedups import compiled_setting, report_benchmarks

COLUMNS = "source,target,group,status,metric,value,low,high,interval,unit".split(",")
# metric, value, unit, then low, high and interval where the value has an interval
Metric = tuple[str, float | int | None, str] | tuple[str, float, str, float, float, str]


def _audit_metrics(t: TargetResult) -> Iterator[Metric]:
    if t.fullgraph is not None:
        yield "fullgraph_ok", int(t.fullgraph.status is CheckStatus.PASSED), "bool"
    if t.breaks is not None:
        yield "graphs", t.breaks.graph_count, "count"
        yield "graph_breaks", t.breaks.break_count, "count"
        yield "distinct_breaks", len(t.breaks.breaks), "count"
    if t.recompiles is not None:
        yield "compiles", t.recompiles.total_compiles, "count"
        yield "max_frame_compiles", t.recompiles.max_frame_compiles, "count"
        yield "recompile_budget", t.recompiles.budget, "count"
    if t.parity is not None:
        yield "parity_max_abs", t.parity.worst_abs, ""
        yield "parity_max_rel", t.parity.worst_rel, ""
    if t.exceptions is not None and t.exceptions.cases:
        cases = t.exceptions.cases
        yield "exception_cases", len(cases), "count"
        mismatches = sum(not (c.type_matches and c.message_matches) for c in cases)
        yield "exception_mismatches", mismatches, "count"
    if t.compile_time is not None:
        yield "compile_first_call", t.compile_time.first_call_s, "s"
        yield "compile_first_backward", t.compile_time.first_backward_s, "s"
        yield "steady_call", t.compile_time.steady_state_s, "s"
    if t.shapes is not None and t.shapes.status is not CheckStatus.SKIPPED:
        yield "shapes_compiles", t.shapes.total_compiles, "count"
        yield "shapes_max_frame_compiles", t.shapes.max_frame_compiles, "count"
        yield "shapes_budget", t.shapes.budget, "count"
    if t.export is not None:
        yield "export_ok", int(t.export.status is CheckStatus.PASSED), "bool"
    if t.cache is not None and t.cache.status is not CheckStatus.SKIPPED:
        yield "cache_ok", int(t.cache.status is CheckStatus.PASSED), "bool"
        for run in t.cache.runs:
            yield f"cache_{run.kind.value}_compile", None if run.error else run.compile_s, "s"
    if t.cudagraphs is not None and t.cudagraphs.status is not CheckStatus.SKIPPED:
        yield "cudagraph_recordings", t.cudagraphs.total_recordings, "count"
        yield "cudagraph_skips", t.cudagraphs.total_skips, "count"
    if t.distributed is not None and t.distributed.ranks:
        yield "distributed_min_graphs", t.distributed.fewest_graphs, "count"
        yield "distributed_max_compiles", t.distributed.most_compiles, "count"
    yield "duration", t.duration_s, "s"


def _benchmark_metrics(r: BenchmarkResult) -> Iterator[Metric]:
    if r.speedup is not None:
        yield "speedup", r.speedup.point, "x", r.speedup.low, r.speedup.high, "ci95"
    for side, timing in (("eager", r.eager), ("compiled", r.compiled)):
        if timing is not None:
            s = timing.summary
            yield f"{side}_median_call", s.median, "s", s.q1, s.q3, "iqr"
            yield f"{side}_throughput", timing.throughput(r.items_per_call), r.unit
    if r.compile_time is not None:
        yield "compile_cold_cache", r.compile_time.cold_s, "s"
        yield "compile_warm_cache", r.compile_time.warm_s, "s"
    yield "mfu_compiled", r.mfu_compiled, "fraction"


def results_csv(report: RunReport) -> str:
    found: list[tuple[tuple[str, str, str, str], Iterator[Metric]]] = []
    if report.audit is not None:
        for t in report.audit.targets:
            found.append((("audit", t.name, t.group, t.status.value), _audit_metrics(t)))
    for r in report_benchmarks(report):
        name = f"{r.name}:{r.task.value}:{compiled_setting(r)}:{r.precision.value}"
        status = "error" if r.error else "ok"
        found.append((("benchmark", name, r.group, status), _benchmark_metrics(r)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for target, metrics in found:
        for metric, value, unit, *interval in metrics:
            low, high, kind = interval or (None, None, "")
            if value is not None:
                writer.writerow((*target, metric, value, low, high, kind, unit))
    return out.getvalue()
