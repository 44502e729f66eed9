"""The audit's tables in report.md: status, breaks, recompiles, parity, exceptions, time.

Rendering only: each function takes the audit's AuditRun and returns a GitHub markdown
table, or None when there is nothing to show.
"""

from __future__ import annotations

from reporting.cells import DASH, code, number, seconds, table, text
from reporting.schema.audit import AuditRun, CheckStatus, TargetResult, TargetStatus

_MARK = {
    CheckStatus.PASSED: "ok",
    CheckStatus.FAILED: "FAIL",
    CheckStatus.SKIPPED: "skip",
    CheckStatus.ERROR: "ERROR",
}


def _mark(result: object | None) -> str:
    status = getattr(result, "status", None)
    return _MARK.get(status, DASH) if status is not None else DASH


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


def compile_status_table(audit: AuditRun) -> str:
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


def breaks_table(audit: AuditRun) -> str | None:
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


def recompiles_table(audit: AuditRun) -> str | None:
    rows = []
    for t in audit.targets:
        rec = t.recompiles
        if rec is None:
            continue
        for step in rec.steps:
            if (
                step.compiles <= 1
                and not step.guard_failures
                and step.error is None
                and step.stale_graph is None
            ):
                continue
            stale = f"stale graph: {step.stale_graph}" if step.stale_graph else None
            reasons = "; ".join(step.guard_failures) or step.error or stale or DASH
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


def parity_table(audit: AuditRun) -> str | None:
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


def exceptions_table(audit: AuditRun) -> str | None:
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


def compile_time_table(audit: AuditRun) -> str | None:
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


def errors_table(audit: AuditRun) -> str | None:
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


def device_faults_table(audit: AuditRun) -> str | None:
    """CUDA errors that ended a target's process; the checks after them ran in a fresh one."""
    rows = [
        [
            text(t.name, 60),
            text(f.check.value),
            text(f.input, 60),
            code(f.error_type),
            text(f.message, 120),
            text(", ".join(f.not_run) or DASH, 80),
        ]
        for t in audit.targets
        for f in t.device_faults
    ]
    if not rows:
        return None
    return table(rows, ["target", "check", "input", "error", "message", "bad inputs not run"])
