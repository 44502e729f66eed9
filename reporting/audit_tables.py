"""The audit's tables: one row per target, then the breaks, recompiles, parity, exception
cases, compile times, errors, device faults and the guard comparison behind the verdicts.

Each takes the AuditRun and returns a Table (reporting.tables), or None when there is
nothing to show; the console summary and report.md render the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from reporting.schema.audit import (
    AuditRun,
    CheckStatus,
    ExceptionCase,
    ExceptionsResult,
    ParityResult,
    TargetResult,
    TargetStatus,
)
from reporting.tables import Cell, Table, at, code, joined, number, seconds, table

_HAZARD = {TargetStatus.PASSED: "detected", TargetStatus.FAILED: "MISSED"}
_FULLGRAPH = {CheckStatus.PASSED: "yes", CheckStatus.FAILED: "NO"}


def per_check(
    audit: AuditRun, check: str, rows: Callable[[str, Any], Iterable[Sequence[Cell]]]
) -> list[Sequence[Cell]]:
    """`rows(target name, result)` of each target that holds a result of `check`."""
    return [
        row
        for t in audit.targets
        if (r := getattr(t, check)) is not None
        for row in rows(t.name, r)
    ]


def status_label(t: TargetResult) -> str:
    """A hazard passes by being flagged: say "detected" / "MISSED" rather than passed / failed."""
    label = _HAZARD.get(t.status, t.status.value) if t.expected_flags else t.status.value
    return label + (" (info)" if t.informational else "")


def _failed(status: CheckStatus, text: str) -> str:
    return text if status is CheckStatus.PASSED else f"FAIL {text}"


def _same(case: ExceptionCase) -> bool:
    return case.type_matches and case.message_matches


def _target_row(t: TargetResult) -> list[Cell]:
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
        joined(c.value for c in t.expected_flags),
    ]


def targets_table(audit: AuditRun) -> Table | None:
    """One row per target; the console leaves out the group and the expected flags."""
    headers = (
        "target | group | status | fullgraph | graphs | breaks | compiles/budget | "
        "parity max err | exceptions | first call s | steady ms | expected flags (hazard)"
    )
    return table(headers, map(_target_row, audit.targets))


def _break_rows(t: TargetResult) -> list[list[Cell]]:
    first = t.fullgraph.graph_break if t.fullgraph else None
    found = [("fullgraph", first)] if first else []
    found += [("breaks", info) for info in (t.breaks.breaks if t.breaks else ())]
    rows, seen = [], set()
    for check, info in found:
        where = info.location
        key = (info.gb_type, where.file if where else None, where.line if where else None)
        if key not in seen:
            seen.add(key)
            gb_type = info.gb_type + (f" ({info.gb_code})" if info.gb_code else "")
            hint = info.hints[0] if info.hints else info.explanation
            rows.append(
                [t.name, check, gb_type, at(where), code(where.code if where else None), hint]
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
    def rows(name: str, parity: ParityResult) -> Iterator[list[Cell]]:
        for m in parity.modes:
            out, grad = m.output, m.worst_grad
            grad_abs = None if grad is None else f"{grad.name}: {number(grad.max_abs)}"
            tolerance = f"{number(out.atol, 2)} / {number(out.rtol, 2)}"
            figures = [number(out.max_abs), number(out.max_rel), grad_abs, tolerance]
            fp64, verdict = number(m.fp64_compiled_max_abs), "ok" if m.passed else "FAIL"
            yield [name, m.mode.value, m.dtype.value, *figures, fp64, verdict]

    headers = (
        "target | mode | dtype | output abs | output rel | worst grad abs | atol / rtol | "
        "compiled vs fp64 | parity"
    )
    return table(headers, per_check(audit, "parity", rows))


def _verdict(case: ExceptionCase) -> str:
    if _same(case):
        return "ok"
    return "message differs" if case.type_matches else "TYPE DIFFERS"


def exceptions_table(audit: AuditRun) -> Table | None:
    def rows(name: str, e: ExceptionsResult) -> Iterator[list[Cell]]:
        for c in e.cases:
            raised = [code(c.eager_type or "nothing"), code(c.compiled_type or "nothing")]
            message = None if c.message_matches else c.compiled_message or None
            yield [name, c.name, code(c.expected_type), *raised, _verdict(c), message]

    headers = "target | bad input | expected | eager raised | compiled raised | parity | "
    return table(headers + "compiled message", per_check(audit, "exceptions", rows))


def compile_time_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        if (c := t.compile_time) is not None:
            times = map(seconds, (c.first_call_s, c.first_backward_s, c.steady_state_s))
            rows.append([t.name, *times, str(c.steady_calls)])
    headers = "target | first call (compiles) | first backward | steady call (median) | "
    return table(headers + "steady calls", rows)


def errors_table(audit: AuditRun) -> Table | None:
    rows = [
        [t.name, t.status.value, code(e.type), e.check and e.check.value, e.message]
        for t in audit.targets
        if (e := t.error) is not None
    ]
    return table("target | status | error | during check | message", rows)


def device_faults_table(audit: AuditRun) -> Table | None:
    """CUDA errors that ended a target's process; the checks after them ran in a fresh one."""
    rows = [
        [t.name, f.check.value, f.input, code(f.error_type), f.message, joined(f.not_run)]
        for t in audit.targets
        for f in t.device_faults
    ]
    return table("target | check | input | error | message | bad inputs not run", rows)


def _guard_row(t: TargetResult) -> list[Cell]:
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
