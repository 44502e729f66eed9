"""The checks a run asks for (--shapes, --export), rendered: one table each for report.md,
the console's first-problem lines, and the rules that call a change between two runs a
regression. They live apart from audit_tables because most runs never hold them.
"""

from __future__ import annotations

from collections.abc import Iterator

from reporting.schema.audit import AuditRun, TargetResult
from reporting.schema.basics import CheckStatus, SourceLocation
from reporting.schema.export import ExportResult
from reporting.schema.shapes import ShapesResult
from reporting.tables import Table, code, table


def _where(location: SourceLocation | None) -> str:
    return "" if location is None else f" at {location.file}:{location.line}: {location.code}"


# ----------------------------------------------------------------------------- shapes


def shapes_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        s = t.shapes
        if s is None:
            continue
        if s.status is CheckStatus.SKIPPED:
            rows.append([t.name, "skipped", s.skipped_reason, None, None, None, None])
            continue
        fix = None if s.advice is None else f"{s.advice.advice.value}: {s.advice.code}"
        special = "; ".join(f"{x.dim} = {x.value} ({x.kind.value})" for x in s.specialisations)
        rows.append(
            [
                t.name,
                s.status.value,
                ", ".join(s.dims),
                f"{s.max_frame_compiles}/{s.budget}",
                None if s.dynamic_from_call is None else str(s.dynamic_from_call),
                special or None,
                code(fix),
            ]
        )
    headers = "target | shapes | swept dims | compiles/budget | dynamic from call"
    return table(headers + " | specialised | narrowest fix", rows)


def shapes_lines(s: ShapesResult | None) -> list[str]:
    """What the console says about a failed sweep: the first recompile, and the fix."""
    if s is None or s.status is not CheckStatus.FAILED:
        return []
    lines = [f"shapes: {s.max_frame_compiles} compiles over the sweep for a budget of {s.budget}"]
    guard = next((g for call in s.calls for g in call.guard_failures), None)
    if guard is not None:
        lines.append(f"  guard failed: {guard.guard[:160]}{_where(guard.location)}")
    error = next((call.error for call in s.calls if call.error), None)
    if error is not None:
        lines.append(f"  compiled call raised: {error[:160]}")
    if s.advice is not None:
        lines.append(f"  narrowest fix ({s.advice.advice.value}): {s.advice.code}")
    elif s.trials:
        lines.append(
            "  no fix tried removed the recompiles: " + ", ".join(t.advice.value for t in s.trials)
        )
    return lines


# ----------------------------------------------------------------------------- export


def export_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        e = t.export
        if e is None:
            continue
        for attempt in e.attempts:
            kind = "strict" if attempt.strict else "non-strict"
            if attempt.exported and attempt.parity is not None:
                outcome = f"exported, max abs {attempt.parity.max_abs:.2e}" + (
                    "" if attempt.parity.passed else " (differs from eager)"
                )
            else:
                outcome = f"{attempt.error_type}: {attempt.error_message}"
            where = attempt.location
            rows.append(
                [
                    t.name,
                    e.status.value,
                    kind,
                    outcome,
                    code(None if where is None else f"{where.file}:{where.line}"),
                ]
            )
        for issue in e.draft_issues:
            where = issue.location
            rows.append(
                [
                    t.name,
                    e.status.value,
                    "draft_export",
                    f"{issue.kind.value}: {issue.detail}",
                    code(None if where is None else f"{where.file}:{where.line}"),
                ]
            )
        if e.captured_flags:
            flags = ", ".join(
                f"{f.module or 'self'}.{f.attribute}={f.value}" for f in e.captured_flags
            )
            rows.append([t.name, e.status.value, "flags baked in", flags, None])
    return table("target | export | attempt | outcome | at", rows)


def export_lines(e: ExportResult | None) -> list[str]:
    if e is None or e.status is not CheckStatus.FAILED:
        return []
    lines = []
    for attempt in e.attempts:
        kind = "strict" if attempt.strict else "non-strict"
        if not attempt.exported:
            lines.append(
                f"export ({kind}): {attempt.error_type}: {attempt.error_message[:160]}"
                + _where(attempt.location)
            )
        elif attempt.parity is not None and not attempt.parity.passed:
            lines.append(
                f"export ({kind}): outputs differ from eager, max abs {attempt.parity.max_abs:.2e}"
            )
    lines += [
        f"  draft_export: {i.kind.value}: {i.detail[:120]}{_where(i.location)}"
        for i in e.draft_issues[:3]
    ]
    if e.draft_note:
        lines.append(f"  draft_export: {e.draft_note}")
    return lines


# ----------------------------------------------------------------------------- regressions


def shapes_findings(base: TargetResult, new: TargetResult) -> Iterator[str]:
    """More compiles over the same sweep, or a sweep that newly fails."""
    a, b = base.shapes, new.shapes
    if not (a and b) or CheckStatus.SKIPPED in (a.status, b.status):
        return
    if b.max_frame_compiles > a.max_frame_compiles or b.total_compiles > a.total_compiles:
        yield (
            f"compiles over the sweep {a.total_compiles} -> {b.total_compiles}, most per frame "
            f"{a.max_frame_compiles} -> {b.max_frame_compiles} (budget {b.budget})"
        )
    elif a.status is CheckStatus.PASSED and b.status is not CheckStatus.PASSED:
        yield f"shapes check {a.status.value} -> {b.status.value}"


def export_findings(base: TargetResult, new: TargetResult) -> Iterator[str]:
    """An export (strict or not) that worked before and fails now, or now differs from eager."""
    a, b = base.export, new.export
    if not (a and b):
        return
    before = {x.strict: x for x in a.attempts}
    for attempt in b.attempts:
        old = before.get(attempt.strict)
        kind = "strict" if attempt.strict else "non-strict"
        if old is None or not old.exported:
            continue
        if not attempt.exported:
            yield f"{kind} export now fails: {attempt.error_type}: {attempt.error_message[:120]}"
        elif (old.parity and old.parity.passed) and not (attempt.parity and attempt.parity.passed):
            yield f"{kind} export now differs from eager"
