"""The checks a run asks for (--shapes, --export, --cache, --cudagraphs, --distributed),
rendered: one table each for report.md, the console's first-problem lines, and the rules
that call a change between two runs a regression. They live apart from audit_tables
because most runs never hold them.
"""

from __future__ import annotations

from collections.abc import Iterator

from reporting.schema.audit import AuditRun, TargetResult
from reporting.schema.basics import CheckStatus, SourceLocation
from reporting.schema.cache import CacheCounts, CacheResult, CacheRunKind
from reporting.schema.cudagraphs import CudagraphsResult
from reporting.schema.distributed import DistributedResult
from reporting.schema.export import ExportResult
from reporting.schema.shapes import ShapesResult
from reporting.tables import Table, code, seconds, table


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


# ----------------------------------------------------------------------------- cache


def _counts(c: CacheCounts | None) -> str | None:
    if c is None:
        return None
    return f"{c.hits} hit, {c.misses} miss" + (f", {c.bypasses} bypass" if c.bypasses else "")


def cache_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        c = t.cache
        if c is None:
            continue
        if c.status is CheckStatus.SKIPPED:
            rows.append([t.name, "skipped", c.skipped_reason, None, None, None, None])
            continue
        for run in c.runs:
            compile_s = None if run.error else seconds(run.compile_s)
            rows.append(
                [
                    t.name,
                    c.status.value,
                    run.kind.value,
                    compile_s,
                    _counts(run.fx_graph),
                    _counts(run.autograd),
                    run.error or "; ".join(run.bypass_reasons) or None,
                ]
            )
        if c.mega_cache_note:
            rows.append([t.name, c.status.value, "mega-cache", None, None, None, c.mega_cache_note])
    headers = "target | cache | process | compile | FX graph cache | AOTAutograd cache | note"
    return table(headers, rows)


def cache_lines(c: CacheResult | None) -> list[str]:
    if c is None or c.status is not CheckStatus.FAILED:
        return []
    lines = []
    for kind in (CacheRunKind.WARM, CacheRunKind.MEGA_CACHE):
        run = c.run(kind)
        if run is None:
            continue
        if run.error:
            lines.append(f"cache ({kind.value} process): {run.error[:160]}")
            continue
        for name, counts in (("FX graph", run.fx_graph), ("AOTAutograd", run.autograd)):
            if counts is not None and (counts.misses or counts.bypasses):
                lines.append(f"cache ({kind.value} process): {name} cache {_counts(counts)}")
        lines += [f"  torch: {reason[:160]}" for reason in run.bypass_reasons[:2]]
    lines += [
        f"  the {k.cache} key changed in {k.component}: {k.value[:100]}" for k in c.key_changes[:3]
    ]
    return lines


def _misses(c: CacheResult | None) -> int | None:
    if c is None or c.status is CheckStatus.SKIPPED:
        return None
    runs = [r for r in c.runs if r.kind is not CacheRunKind.COLD and not r.error]
    return sum(
        counts.misses + counts.bypasses
        for r in runs
        for counts in (r.fx_graph, r.autograd)
        if counts is not None
    )


# ----------------------------------------------------------------------------- cudagraphs


def cudagraphs_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        g = t.cudagraphs
        if g is None:
            continue
        if g.status is CheckStatus.SKIPPED:
            rows.append([t.name, "not applicable", None, None, None, g.skipped_reason])
            continue
        for step in g.steps:
            reasons = step.skip_reasons + step.rerecord_reasons
            rows.append(
                [
                    t.name,
                    g.status.value,
                    step.step,
                    f"{step.recordings}"
                    + ("" if step.max_recordings is None else f"/{step.max_recordings}"),
                    str(step.skips),
                    step.error or "; ".join(reasons) or None,
                ]
            )
    return table("target | cudagraphs | step | recordings/allowed | skips | reason", rows)


def cudagraphs_lines(g: CudagraphsResult | None) -> list[str]:
    if g is None or g.status is not CheckStatus.FAILED:
        return []
    if not g.recorded:
        return ["cudagraphs: no CUDA graph was recorded under reduce-overhead"]
    lines = []
    for step in g.steps:
        if step.skips:
            reason = step.skip_reasons[0] if step.skip_reasons else "no reason given"
            lines.append(f"cudagraphs: step {step.step!r} skipped CUDA graphs: {reason[:160]}")
        if step.max_recordings is not None and step.recordings > step.max_recordings:
            lines.append(
                f"cudagraphs: step {step.step!r} recorded {step.recordings} graph(s), "
                f"allowed {step.max_recordings}"
            )
    return lines


# ----------------------------------------------------------------------------- distributed


def distributed_table(audit: AuditRun) -> Table | None:
    rows = []
    for t in audit.targets:
        d = t.distributed
        if d is None:
            continue
        if d.status is CheckStatus.SKIPPED:
            rows.append([t.name, "skipped", None, None, None, None, d.skipped_reason])
            continue
        for r in d.ranks:
            worst = r.worst_grad if r.worst_grad and not r.worst_grad.passed else r.output
            rows.append(
                [
                    t.name,
                    d.status.value,
                    f"{d.wrapper.value} rank {r.rank}",
                    f"{r.compiled_graphs} (min {d.min_graphs})",
                    f"{r.max_frame_compiles}/{d.budget}",
                    f"{worst.name}: {worst.max_abs:.2e}",
                    None if r.passed else "fails",
                ]
            )
    headers = "target | distributed | rank | graphs | compiles/budget | worst diff | note"
    return table(headers, rows)


def distributed_lines(d: DistributedResult | None) -> list[str]:
    if d is None or d.status is not CheckStatus.FAILED:
        return []
    lines = []
    for r in d.ranks:
        if r.compiled_graphs < d.min_graphs:
            lines.append(
                f"distributed ({d.wrapper.value}) rank {r.rank}: {r.compiled_graphs} compiled "
                f"graph(s), expected at least {d.min_graphs} (bucket splits)"
            )
        if r.max_frame_compiles > d.budget:
            guard = f"; guard: {r.guard_failures[0][:120]}" if r.guard_failures else ""
            lines.append(
                f"distributed ({d.wrapper.value}) rank {r.rank}: compiled "
                f"{r.max_frame_compiles}x for a budget of {d.budget}{guard}"
            )
        for diff in (r.output, r.worst_grad):
            if diff is not None and not diff.passed:
                lines.append(
                    f"distributed ({d.wrapper.value}) rank {r.rank}: {diff.name} differs from "
                    f"eager, max abs {diff.max_abs:.2e}"
                )
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


def cache_findings(base: TargetResult, new: TargetResult) -> Iterator[str]:
    """A warm or mega-cache process that misses (or bypasses) more than it did."""
    before, now = _misses(base.cache), _misses(new.cache)
    if before is not None and now is not None and now > before:
        yield f"cache misses after the cold run {before} -> {now}"


def cudagraphs_findings(base: TargetResult, new: TargetResult) -> Iterator[str]:
    """More CUDA-graph skips, or no graph where there was one."""
    a, b = base.cudagraphs, new.cudagraphs
    if not (a and b) or CheckStatus.SKIPPED in (a.status, b.status):
        return
    if b.total_skips > a.total_skips:
        yield f"CUDA-graph skips {a.total_skips} -> {b.total_skips}"
    if a.recorded and not b.recorded:
        yield "no CUDA graph recorded any more"


def distributed_findings(base: TargetResult, new: TargetResult) -> Iterator[str]:
    """More compiles on a rank, or a distributed run that passed and now fails."""
    a, b = base.distributed, new.distributed
    if not (a and b) or CheckStatus.SKIPPED in (a.status, b.status):
        return
    if (b.most_compiles or 0) > (a.most_compiles or 0):
        yield f"compiles per rank {a.most_compiles} -> {b.most_compiles} (budget {b.budget})"
    elif a.status is CheckStatus.PASSED and b.status is not CheckStatus.PASSED:
        yield f"distributed check {a.status.value} -> {b.status.value}"
