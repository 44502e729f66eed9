"""report.md: the run as a person reads it, tables made with tabulate.

Rendering only: every figure comes from the RunReport. Sections: one summary line,
the environment, per-target compile status, breaks with location and hint, recompiles
with the failed guards, parity, exception parity, compile time, speedups with their CI,
and target errors.
"""

from __future__ import annotations

import math
from collections import Counter

from audits.report import cells
from audits.report.cells import DASH, code, number, seconds, table, text
from audits.report.document import RunReport
from audits.report.speedups import report_benchmarks, speedup_label
from audits.results import CheckStatus, RunResult, TargetResult, TargetStatus
from benchmarks.results import BenchmarkResult

SPEEDUP_PNG = "speedup.png"
COMPILE_TIME_PNG = "compile_time.png"

_MARK = {
    CheckStatus.PASSED: "ok",
    CheckStatus.FAILED: "FAIL",
    CheckStatus.SKIPPED: "skip",
    CheckStatus.ERROR: "ERROR",
}


def _mark(result: object | None) -> str:
    status = getattr(result, "status", None)
    return _MARK.get(status, DASH) if status is not None else DASH


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
            f"{failing} failing --fail-on; backend {report.audit.settings.backend}"
        )
    found = report_benchmarks(report).results
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


def _target_status(t: TargetResult) -> str:
    """A hazard passes by being flagged: say "detected" / "MISSED" rather than passed / failed."""
    if t.expected_flags and t.status is TargetStatus.PASSED:
        label = "detected"
    elif t.expected_flags and t.status is TargetStatus.FAILED:
        label = "MISSED"
    else:
        label = t.status.value if t.status is TargetStatus.PASSED else t.status.value.upper()
    return label + (" (info)" if t.informational else "")


def _compile_status_row(t: TargetResult) -> list[str]:
    breaks = t.breaks
    rec = t.recompiles
    parity = t.parity.worst_abs if t.parity else None
    exc = t.exceptions
    exc_text = DASH
    if exc is not None and exc.cases:
        matching = sum(c.type_matches and c.message_matches for c in exc.cases)
        exc_text = f"{matching}/{len(exc.cases)}"
    expected = ", ".join(c.value for c in t.expected_flags)
    return [
        text(t.name, 60),
        t.group,
        _target_status(t),
        _mark(t.fullgraph),
        DASH if breaks is None else str(breaks.graph_count),
        DASH if breaks is None else str(breaks.break_count),
        DASH if rec is None else f"{rec.max_frame_compiles}/{rec.budget}",
        number(parity),
        exc_text,
        seconds(t.compile_time.first_call_s if t.compile_time else None),
        expected or DASH,
    ]


def compile_status_table(audit: RunResult) -> str:
    headers = [
        "target",
        "group",
        "status",
        "fullgraph",
        "graphs",
        "breaks",
        "compiles/budget",
        "worst parity abs",
        "exceptions match",
        "first call",
        "expected flags (hazard)",
    ]
    return table([_compile_status_row(t) for t in audit.targets], headers)


def breaks_table(audit: RunResult) -> str | None:
    rows = []
    for t in audit.targets:
        seen = set()
        infos = []
        if t.fullgraph is not None and t.fullgraph.graph_break is not None:
            infos.append(("fullgraph", t.fullgraph.graph_break))
        if t.breaks is not None:
            infos.extend(("breaks", info) for info in t.breaks.breaks)
        for check, info in infos:
            where = info.location
            key = (info.gb_type, where.file if where else None, where.line if where else None)
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                [
                    text(t.name, 50),
                    check,
                    text(info.gb_type, 60) + (f" ({info.gb_code})" if info.gb_code else ""),
                    code(f"{where.file}:{where.line}" if where else None),
                    code(where.code if where else None, 70),
                    text(info.hints[0] if info.hints else info.explanation, 120),
                ]
            )
    if not rows:
        return None
    return table(rows, ["target", "check", "break", "location", "source", "hint"])


def recompiles_table(audit: RunResult) -> str | None:
    rows = []
    for t in audit.targets:
        rec = t.recompiles
        if rec is None:
            continue
        for step in rec.steps:
            if step.compiles <= 1 and not step.guard_failures and step.error is None:
                continue
            reasons = "; ".join(step.guard_failures) or step.error or DASH
            rows.append(
                [
                    text(t.name, 50),
                    text(step.step, 40),
                    str(step.calls),
                    str(step.compiles),
                    text(reasons, 160),
                ]
            )
        if rec.limit_hit:
            fallback = "silent fallback to eager" if rec.silent_fallback else "limit hit"
            rows.append(
                [
                    text(t.name, 50),
                    "(whole replay)",
                    DASH,
                    str(rec.total_compiles),
                    f"{fallback} at recompile_limit {rec.recompile_limit}",
                ]
            )
    if not rows:
        return None
    return table(rows, ["target", "step", "calls", "compiles", "failed guard / reason"])


def parity_table(audit: RunResult) -> str | None:
    rows = []
    for t in audit.targets:
        if t.parity is None:
            continue
        for m in t.parity.modes:
            grad = m.worst_grad
            rows.append(
                [
                    text(t.name, 50),
                    m.mode.value,
                    m.dtype,
                    number(m.output.max_abs),
                    number(m.output.max_rel),
                    DASH if grad is None else f"{text(grad.name, 40)}: {number(grad.max_abs)}",
                    f"{number(m.output.atol, 2)} / {number(m.output.rtol, 2)}",
                    number(m.fp64_compiled_max_abs),
                    "ok" if m.passed else "FAIL",
                ]
            )
    if not rows:
        return None
    return table(
        rows,
        [
            "target",
            "mode",
            "dtype",
            "output abs",
            "output rel",
            "worst grad abs",
            "atol / rtol",
            "compiled vs fp64",
            "parity",
        ],
    )


def exceptions_table(audit: RunResult) -> str | None:
    rows = []
    for t in audit.targets:
        if t.exceptions is None:
            continue
        for c in t.exceptions.cases:
            verdict = (
                "ok"
                if c.type_matches and c.message_matches
                else ("message differs" if c.type_matches else "TYPE DIFFERS")
            )
            rows.append(
                [
                    text(t.name, 50),
                    text(c.name, 40),
                    code(c.expected_type),
                    code(c.eager_type or "nothing"),
                    code(c.compiled_type or "nothing"),
                    verdict,
                    text(c.compiled_message if not c.message_matches else "", 100) or DASH,
                ]
            )
    if not rows:
        return None
    return table(
        rows,
        [
            "target",
            "bad input",
            "expected",
            "eager raised",
            "compiled raised",
            "parity",
            "compiled message",
        ],
    )


def compile_time_table(audit: RunResult) -> str | None:
    rows = [
        [
            text(t.name, 60),
            seconds(t.compile_time.first_call_s),
            seconds(t.compile_time.first_backward_s),
            seconds(t.compile_time.steady_state_s),
            str(t.compile_time.steady_calls),
        ]
        for t in audit.targets
        if t.compile_time is not None
    ]
    if not rows:
        return None
    return table(
        rows,
        [
            "target",
            "first call (compiles)",
            "first backward",
            "steady call (median)",
            "steady calls",
        ],
    )


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


def speedups_table(report: RunReport) -> tuple[str | None, tuple[str, ...]]:
    found = report_benchmarks(report)
    if not found.results:
        return None, found.unreadable
    headers = [
        "workload [task, mode, dtype]",
        "backend",
        "eager per call",
        "compiled per call",
        "speedup",
        "95% CI",
        "compile (cold cache)",
    ]
    return table([_speedup_row(r) for r in found.results], headers), found.unreadable


def goals_table(report: RunReport) -> str | None:
    if report.benchmarks is None or not report.benchmarks.goals:
        return None
    rows = [
        [g.goal, g.status.value.upper(), g.target, text(g.detail, 120)]
        for g in report.benchmarks.goals
    ]
    return table(rows, ["goal", "verdict", "target", "measured"])


def errors_table(audit: RunResult) -> str | None:
    rows = [
        [
            text(t.name, 60),
            t.status.value,
            code(t.error.type),
            text(t.error.check.value if t.error.check else DASH),
            text(t.error.message, 160),
        ]
        for t in audit.targets
        if t.error is not None
    ]
    if not rows:
        return None
    return table(rows, ["target", "status", "error", "during check", "message"])


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
            f"One measurement per target (no CI). ![compile time]({COMPILE_TIME_PNG})",
        )
    speedups, unreadable = speedups_table(report)
    note = (
        "Speedup = median eager time / median compiled time, with a paired bootstrap 95 % CI. "
        f"![speedup]({SPEEDUP_PNG})"
    )
    section(
        "Speedups", speedups, "Not measured in this run (no benchmarks, or `--no-bench`).", note
    )
    if unreadable:
        lines.extend(["", "Benchmark results that could not be read:", ""])
        lines.extend(f"- {cells.text(u, 200)}" for u in unreadable)
    goals = goals_table(report)
    if goals is not None:
        section("Benchmark goals", goals, "")
    if audit is not None:
        errors = errors_table(audit)
        if errors is not None:
            section("Errors", errors, "")
    return "\n".join(lines) + "\n"
