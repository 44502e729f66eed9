"""The audit's tables: one row per target, then the breaks, recompiles, parity, exception
cases, compile times, errors, device faults and the guard comparison behind the verdicts.

Each function takes the AuditRun and returns a Table (reporting.tables), or None when there
is nothing to show; the console summary and report.md render the same tables.
"""

from __future__ import annotations

from reporting.schema.audit import (
    AuditRun,
    CheckStatus,
    ExceptionCase,
    GraphBreakInfo,
    TargetResult,
    TargetStatus,
)
from reporting.tables import Table, code, number, seconds, table


def status_label(t: TargetResult) -> str:
    """A hazard passes by being flagged: say "detected" / "MISSED" rather than passed / failed."""
    label = t.status.value
    if t.expected_flags and t.status is TargetStatus.PASSED:
        label = "detected"
    elif t.expected_flags and t.status is TargetStatus.FAILED:
        label = "MISSED"
    return label + (" (info)" if t.informational else "")


_FULLGRAPH = {CheckStatus.PASSED: "yes", CheckStatus.FAILED: "NO"}


def _failed(status: CheckStatus, text: str) -> str:
    return text if status is CheckStatus.PASSED else f"FAIL {text}"


def _same(case: ExceptionCase) -> bool:
    return case.type_matches and case.message_matches


def _target_row(t: TargetResult) -> list[str | None]:
    fg, breaks, rec, parity, exc = t.fullgraph, t.breaks, t.recompiles, t.parity, t.exceptions
    time = t.compile_time
    compiles = None
    if rec is not None:
        compiles = _failed(rec.status, f"{rec.max_frame_compiles}/{rec.budget}")
        compiles += " limit hit" if rec.limit_hit and rec.status is CheckStatus.FAILED else ""
    worst = None if parity is None or parity.worst_abs is None else f"{parity.worst_abs:.1e}"
    same = None
    if exc is not None and exc.status is not CheckStatus.SKIPPED:
        same = _failed(exc.status, f"{sum(map(_same, exc.cases))}/{len(exc.cases)} same")
    steady = None if time is None or time.steady_state_s is None else time.steady_state_s * 1e3
    return [
        t.name,
        t.group,
        status_label(t),
        None if fg is None else _FULLGRAPH.get(fg.status, fg.status.value),
        None if breaks is None else str(breaks.graph_count),
        None if breaks is None else str(breaks.break_count),
        compiles,
        None if parity is None else _failed(parity.status, worst or "-"),
        same,
        None if time is None else f"{time.first_call_s:.2f}",
        None if steady is None else f"{steady:.2f}",
        ", ".join(c.value for c in t.expected_flags) or None,
    ]


def targets_table(audit: AuditRun) -> Table | None:
    """One row per target; the console leaves out the group and the expected flags."""
    headers = (
        "target | group | status | fullgraph | graphs | breaks | compiles/budget | "
        "parity max err | exceptions | first call s | steady ms | expected flags (hazard)"
    )
    return table(headers, map(_target_row, audit.targets))


def _break_rows(t: TargetResult) -> list[list[str | None]]:
    found: list[tuple[str, GraphBreakInfo]] = []
    if t.fullgraph is not None and t.fullgraph.graph_break is not None:
        found.append(("fullgraph", t.fullgraph.graph_break))
    found.extend(("breaks", info) for info in (t.breaks.breaks if t.breaks else ()))
    rows, seen = [], set()
    for check, info in found:
        where = info.location
        key = (info.gb_type, where.file if where else None, where.line if where else None)
        if key not in seen:
            seen.add(key)
            rows.append(
                [
                    t.name,
                    check,
                    info.gb_type + (f" ({info.gb_code})" if info.gb_code else ""),
                    code(f"{where.file}:{where.line}" if where else None),
                    code(where.code if where else None),
                    info.hints[0] if info.hints else info.explanation,
                ]
            )
    return rows


def breaks_table(audit: AuditRun) -> Table | None:
    rows = [row for t in audit.targets for row in _break_rows(t)]
    return table("target | check | break | location | source | hint", rows)


def recompiles_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        for step in t.recompiles.steps if t.recompiles else ():
            stale = f"stale graph: {step.stale_graph}" if step.stale_graph else None
            reasons = "; ".join(step.guard_failures) or step.error or stale
            if step.compiles > 1 or reasons:
                rows.append([t.name, step.step, str(step.calls), str(step.compiles), reasons])
        rec = t.recompiles
        if rec is not None and rec.limit_hit:
            fallback = "silent fallback to eager" if rec.silent_fallback else "limit hit"
            why = f"{fallback} at recompile_limit {rec.recompile_limit}"
            rows.append([t.name, "(whole replay)", None, str(rec.total_compiles), why])
    return table("target | step | calls | compiles | failed guard / reason", rows)


def parity_table(audit: AuditRun) -> Table | None:
    rows = [
        [
            t.name,
            m.mode.value,
            m.dtype.value,
            number(m.output.max_abs),
            number(m.output.max_rel),
            None
            if m.worst_grad is None
            else f"{m.worst_grad.name}: {number(m.worst_grad.max_abs)}",
            f"{number(m.output.atol, 2)} / {number(m.output.rtol, 2)}",
            number(m.fp64_compiled_max_abs),
            "ok" if m.passed else "FAIL",
        ]
        for t in audit.targets
        for m in (t.parity.modes if t.parity else ())
    ]
    headers = (
        "target | mode | dtype | output abs | output rel | worst grad abs | atol / rtol | "
        "compiled vs fp64 | parity"
    )
    return table(headers, rows)


def _verdict(case: ExceptionCase) -> str:
    if _same(case):
        return "ok"
    return "message differs" if case.type_matches else "TYPE DIFFERS"


def exceptions_table(audit: AuditRun) -> Table | None:
    rows = [
        [
            t.name,
            c.name,
            code(c.expected_type),
            code(c.eager_type or "nothing"),
            code(c.compiled_type or "nothing"),
            _verdict(c),
            None if c.message_matches else c.compiled_message or None,
        ]
        for t in audit.targets
        for c in (t.exceptions.cases if t.exceptions else ())
    ]
    headers = "target | bad input | expected | eager raised | compiled raised | parity | "
    return table(headers + "compiled message", rows)


def compile_time_table(audit: AuditRun) -> Table | None:
    rows = [
        [
            t.name,
            seconds(t.compile_time.first_call_s),
            seconds(t.compile_time.first_backward_s),
            seconds(t.compile_time.steady_state_s),
            str(t.compile_time.steady_calls),
        ]
        for t in audit.targets
        if t.compile_time is not None
    ]
    headers = "target | first call (compiles) | first backward | steady call (median) | "
    return table(headers + "steady calls", rows)


def errors_table(audit: AuditRun) -> Table | None:
    rows = [
        [
            t.name,
            t.status.value,
            code(t.error.type),
            t.error.check.value if t.error.check else None,
            t.error.message,
        ]
        for t in audit.targets
        if t.error is not None
    ]
    return table("target | status | error | during check | message", rows)


def device_faults_table(audit: AuditRun) -> Table | None:
    """CUDA errors that ended a target's process; the checks after them ran in a fresh one."""
    rows = [
        [
            t.name,
            f.check.value,
            f.input,
            code(f.error_type),
            f.message,
            ", ".join(f.not_run) or None,
        ]
        for t in audit.targets
        for f in t.device_faults
    ]
    return table("target | check | input | error | message | bad inputs not run", rows)


def _guard_row(t: TargetResult) -> list[str | None]:
    fg = t.fullgraph
    normal = None
    if fg is not None:
        normal = "one graph" if fg.status is CheckStatus.PASSED else f"breaks: {fg.error_type}"
    if t.parity is not None:
        passed = t.parity.status is CheckStatus.PASSED
        normal = f"{normal or '-'}, parity {'ok' if passed else 'FAIL'}"
    case = t.exceptions.cases[0] if t.exceptions and t.exceptions.cases else None
    error_path = None
    if case is not None:
        error_path = f"eager {case.eager_type} -> compiled {case.compiled_type}"
        error_path += f" ({case.graph_break.gb_type})" if case.graph_break else ""
    return [t.name, normal, error_path, "same" if case and _same(case) else "DIFFERS"]


def guards_table(audit: AuditRun) -> Table | None:
    """TransformerHost's two guards side by side, normal and error path, as measured."""
    rows = [_guard_row(t) for t in audit.targets if t.group == "guard"]
    return table("guard / entry point | normal path | error path | user sees", rows)
