"""The checks a run asks for (--shapes, --export, --cache, --cudagraphs, --distributed),
rendered: one table each for report.md, the console's lines for a failed one, and the rules
that call a change between two runs a regression. They live apart from audit_tables
because most runs never hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from reporting.audit_tables import per_check
from reporting.schema.audit import AuditRun
from reporting.schema.basics import CheckStatus, SourceLocation
from reporting.schema.cache import CacheCounts, CacheResult, CacheRunKind
from reporting.schema.cudagraphs import CudagraphsResult
from reporting.schema.distributed import DistributedResult
from reporting.schema.export import ExportResult
from reporting.schema.shapes import ShapesResult
from reporting.tables import Cell, Table, at, code, joined, seconds, table

Rows = Iterator[list[Cell]]


def _where(location: SourceLocation | None) -> str:
    return "" if location is None else f" at {location.file}:{location.line}: {location.code}"


# ----------------------------------------------------------------------------- shapes


def shapes_table(audit: AuditRun) -> Table | None:
    def rows(name: str, s: ShapesResult) -> Rows:
        if s.status is CheckStatus.SKIPPED:
            yield [name, "skipped", s.skipped_reason, None, None, None, None]
            return
        fix = None if s.advice is None else f"{s.advice.advice.value}: {s.advice.code}"
        special = "; ".join(f"{x.dim} = {x.value} ({x.kind.value})" for x in s.specialisations)
        dynamic = None if s.dynamic_from_call is None else str(s.dynamic_from_call)
        sweep = [", ".join(s.dims), f"{s.max_frame_compiles}/{s.budget}", dynamic]
        yield [name, s.status.value, *sweep, special or None, code(fix)]

    headers = "target | shapes | swept dims | compiles/budget | dynamic from call"
    return table(headers + " | specialised | narrowest fix", per_check(audit, "shapes", rows))


def shapes_lines(s: ShapesResult) -> list[str]:
    """A failed sweep on the console: the first recompile, and the fix."""
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
        tried = ", ".join(t.advice.value for t in s.trials)
        lines.append(f"  no fix tried removed the recompiles: {tried}")
    return lines


def shapes_findings(a: ShapesResult, b: ShapesResult) -> Iterator[str]:
    """More compiles over the same sweep, or a sweep that newly fails."""
    if CheckStatus.SKIPPED in (a.status, b.status):
        return
    if b.max_frame_compiles > a.max_frame_compiles or b.total_compiles > a.total_compiles:
        yield (
            f"compiles over the sweep {a.total_compiles} -> {b.total_compiles}, most per frame "
            f"{a.max_frame_compiles} -> {b.max_frame_compiles} (budget {b.budget})"
        )
    elif a.status is CheckStatus.PASSED and b.status is not CheckStatus.PASSED:
        yield f"shapes check {a.status.value} -> {b.status.value}"


# ----------------------------------------------------------------------------- export


def _kind(strict: bool) -> str:
    return "strict" if strict else "non-strict"


def export_table(audit: AuditRun) -> Table | None:
    def rows(name: str, e: ExportResult) -> Rows:
        for a in e.attempts:
            outcome = f"{a.error_type}: {a.error_message}"
            if a.exported and a.parity is not None:
                differs = "" if a.parity.passed else " (differs from eager)"
                outcome = f"exported, max abs {a.parity.max_abs:.2e}{differs}"
            yield [name, e.status.value, _kind(a.strict), outcome, at(a.location)]
        for i in e.draft_issues:
            yield [
                name,
                e.status.value,
                "draft_export",
                f"{i.kind.value}: {i.detail}",
                at(i.location),
            ]
        if e.captured_flags:
            flags = ", ".join(
                f"{f.module or 'self'}.{f.attribute}={f.value}" for f in e.captured_flags
            )
            yield [name, e.status.value, "flags baked in", flags, None]

    return table("target | export | attempt | outcome | at", per_check(audit, "export", rows))


def export_lines(e: ExportResult) -> list[str]:
    lines = []
    for a in e.attempts:
        kind = _kind(a.strict)
        if not a.exported:
            error = f"{a.error_type}: {a.error_message[:160]}{_where(a.location)}"
            lines.append(f"export ({kind}): {error}")
        elif a.parity is not None and not a.parity.passed:
            lines.append(
                f"export ({kind}): outputs differ from eager, max abs {a.parity.max_abs:.2e}"
            )
    lines += [
        f"  draft_export: {i.kind.value}: {i.detail[:120]}{_where(i.location)}"
        for i in e.draft_issues[:3]
    ]
    if e.draft_note:
        lines.append(f"  draft_export: {e.draft_note}")
    return lines


def export_findings(a: ExportResult, b: ExportResult) -> Iterator[str]:
    """An export (strict or not) that worked before and fails now, or now differs from eager."""
    before = {x.strict: x for x in a.attempts}
    for attempt in b.attempts:
        old, kind = before.get(attempt.strict), _kind(attempt.strict)
        if old is None or not old.exported:
            continue
        if not attempt.exported:
            yield f"{kind} export now fails: {attempt.error_type}: {attempt.error_message[:120]}"
        elif (old.parity and old.parity.passed) and not (attempt.parity and attempt.parity.passed):
            yield f"{kind} export now differs from eager"


# ----------------------------------------------------------------------------- cache


def _counts(c: CacheCounts | None) -> str | None:
    if c is None:
        return None
    return f"{c.hits} hit, {c.misses} miss" + (f", {c.bypasses} bypass" if c.bypasses else "")


def cache_table(audit: AuditRun) -> Table | None:
    def rows(name: str, c: CacheResult) -> Rows:
        if c.status is CheckStatus.SKIPPED:
            yield [name, "skipped", c.skipped_reason, None, None, None, None]
            return
        for run in c.runs:
            compile_s = None if run.error else seconds(run.compile_s)
            counts = [_counts(run.fx_graph), _counts(run.autograd)]
            note = run.error or joined(run.bypass_reasons, "; ")
            yield [name, c.status.value, run.kind.value, compile_s, *counts, note]
        if c.mega_cache_note:
            yield [name, c.status.value, "mega-cache", None, None, None, c.mega_cache_note]

    headers = "target | cache | process | compile | FX graph cache | AOTAutograd cache | note"
    return table(headers, per_check(audit, "cache", rows))


def cache_lines(c: CacheResult) -> list[str]:
    lines = []
    for kind in (CacheRunKind.WARM, CacheRunKind.MEGA_CACHE):
        run = c.run(kind)
        if run is not None and run.error:
            lines.append(f"cache ({kind.value} process): {run.error[:160]}")
        elif run is not None:
            for name, counts in (("FX graph", run.fx_graph), ("AOTAutograd", run.autograd)):
                if counts is not None and (counts.misses or counts.bypasses):
                    lines.append(f"cache ({kind.value} process): {name} cache {_counts(counts)}")
            lines += [f"  torch: {reason[:160]}" for reason in run.bypass_reasons[:2]]
    lines += [
        f"  the {k.cache} key changed in {k.component}: {k.value[:100]}" for k in c.key_changes[:3]
    ]
    return lines


def _misses(c: CacheResult) -> int | None:
    if c.status is CheckStatus.SKIPPED:
        return None
    runs = [r for r in c.runs if r.kind is not CacheRunKind.COLD and not r.error]
    return sum(n.misses + n.bypasses for r in runs for n in (r.fx_graph, r.autograd) if n)


def cache_findings(a: CacheResult, b: CacheResult) -> Iterator[str]:
    """A warm or mega-cache process that misses (or bypasses) more than it did."""
    before, now = _misses(a), _misses(b)
    if before is not None and now is not None and now > before:
        yield f"cache misses after the cold run {before} -> {now}"


# ----------------------------------------------------------------------------- cudagraphs


def cudagraphs_table(audit: AuditRun) -> Table | None:
    def rows(name: str, g: CudagraphsResult) -> Rows:
        if g.status is CheckStatus.SKIPPED:
            yield [name, "not applicable", None, None, None, g.skipped_reason]
            return
        for step in g.steps:
            allowed = "" if step.max_recordings is None else f"/{step.max_recordings}"
            reason = step.error or joined(step.skip_reasons + step.rerecord_reasons, "; ")
            recordings = f"{step.recordings}{allowed}"
            yield [name, g.status.value, step.step, recordings, str(step.skips), reason]

    headers = "target | cudagraphs | step | recordings/allowed | skips | reason"
    return table(headers, per_check(audit, "cudagraphs", rows))


def cudagraphs_lines(g: CudagraphsResult) -> list[str]:
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


def cudagraphs_findings(a: CudagraphsResult, b: CudagraphsResult) -> Iterator[str]:
    """More CUDA-graph skips, or no graph where there was one."""
    if CheckStatus.SKIPPED in (a.status, b.status):
        return
    if b.total_skips > a.total_skips:
        yield f"CUDA-graph skips {a.total_skips} -> {b.total_skips}"
    if a.recorded and not b.recorded:
        yield "no CUDA graph recorded any more"


# ----------------------------------------------------------------------------- distributed


def distributed_table(audit: AuditRun) -> Table | None:
    def rows(name: str, d: DistributedResult) -> Rows:
        if d.status is CheckStatus.SKIPPED:
            yield [name, "skipped", None, None, None, None, d.skipped_reason]
            return
        for r in d.ranks:
            worst = r.worst_grad if r.worst_grad and not r.worst_grad.passed else r.output
            rank, graphs = (
                f"{d.wrapper.value} rank {r.rank}",
                f"{r.compiled_graphs} (min {d.min_graphs})",
            )
            figures = [
                graphs,
                f"{r.max_frame_compiles}/{d.budget}",
                f"{worst.name}: {worst.max_abs:.2e}",
            ]
            yield [name, d.status.value, rank, *figures, None if r.passed else "fails"]

    headers = "target | distributed | rank | graphs | compiles/budget | worst diff | note"
    return table(headers, per_check(audit, "distributed", rows))


def distributed_lines(d: DistributedResult) -> list[str]:
    lines = []
    for r in d.ranks:
        rank = f"distributed ({d.wrapper.value}) rank {r.rank}"
        if r.compiled_graphs < d.min_graphs:
            lines.append(
                f"{rank}: {r.compiled_graphs} compiled graph(s), "
                f"expected at least {d.min_graphs} (bucket splits)"
            )
        if r.max_frame_compiles > d.budget:
            guard = f"; guard: {r.guard_failures[0][:120]}" if r.guard_failures else ""
            lines.append(
                f"{rank}: compiled {r.max_frame_compiles}x for a budget of {d.budget}{guard}"
            )
        lines += [
            f"{rank}: {diff.name} differs from eager, max abs {diff.max_abs:.2e}"
            for diff in (r.output, r.worst_grad)
            if diff is not None and not diff.passed
        ]
    return lines


def distributed_findings(a: DistributedResult, b: DistributedResult) -> Iterator[str]:
    """More compiles on a rank, or a distributed run that passed and now fails."""
    if CheckStatus.SKIPPED in (a.status, b.status):
        return
    if (b.most_compiles or 0) > (a.most_compiles or 0):
        yield f"compiles per rank {a.most_compiles} -> {b.most_compiles} (budget {b.budget})"
    elif a.status is CheckStatus.PASSED and b.status is not CheckStatus.PASSED:
        yield f"distributed check {a.status.value} -> {b.status.value}"


# What the console says about each check when it failed, by TargetResult field.
FAILURE_LINES: dict[str, Callable[[Any], list[str]]] = {
    "shapes": shapes_lines,
    "export": export_lines,
    "cache": cache_lines,
    "cudagraphs": cudagraphs_lines,
    "distributed": distributed_lines,
}
