"""Compare a run with a baseline: what got worse, per target, as typed findings, and the
markdown that says so (printed, and appended to $GITHUB_STEP_SUMMARY).

A regression is one of:
- a target that passed and now errors, times out or crashes, or a hazard no longer flagged;
- a new graph break: fullgraph lost, more graphs or breaks, or a break (type and place)
  the baseline did not have;
- more recompiles, or the recompile limit newly hit;
- a parity or exception-parity case that matched and no longer does;
- a speedup that dropped by more than the threshold *and* falls outside both 95 % CIs:
  the new estimate below the baseline's interval and the baseline's estimate above the
  new interval, so noise alone does not fail a commit.

Timings are compared only when both runs used the same device kind, device (the GPU, or
the CPU model) and torch version; otherwise only the compile-status items are, and the
result says why. Breaks are matched by type, file, function and source text, not line
number, so an edit above a known break does not read as a new one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from reporting import extra_checks as extra
from reporting.schema.audit import (
    BROKEN,
    BreaksResult,
    CheckStatus,
    ExceptionsResult,
    FullgraphResult,
    GraphBreakInfo,
    ParityResult,
    RecompilesResult,
    TargetResult,
)
from reporting.schema.report import RunReport
from reporting.speedups import report_benchmarks, speedup_key, speedup_label
from reporting.tables import markdown_text, table

DEFAULT_THRESHOLD = 0.10


class RegressionKind(str, enum.Enum):
    STATUS = "status"
    GRAPH_BREAK = "new graph break"
    RECOMPILES = "more recompiles"
    PARITY = "parity"
    EXCEPTION_PARITY = "exception parity"
    SHAPES = "more compiles over the shape sweep"
    EXPORT = "export"
    CACHE = "cache miss"
    CUDAGRAPHS = "CUDA-graph skip"
    DISTRIBUTED = "distributed"
    SPEEDUP = "speedup"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    target: str
    kind: RegressionKind
    detail: str
    gating: bool = True  # False for informational targets: shown, never failing


@dataclass(frozen=True, slots=True, kw_only=True)
class RegressionReport:
    base_label: str
    new_label: str
    threshold: float
    timings_compared: bool
    timings_reason: str  # why timings were or were not compared
    targets_compared: int
    speedups_compared: int
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()  # targets or speedups present on one side only, etc.

    @property
    def regressions(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.gating)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def timings_comparable(base: RunReport, new: RunReport) -> tuple[bool, str]:
    a, b = base.environment, new.environment
    differences = []
    if a.device_kind != b.device_kind:
        differences.append(f"device kind {a.device_kind} vs {b.device_kind}")
    elif a.device_name != b.device_name:
        # A speedup is a property of the processor as much as of the code: the audit-size
        # transformer measured 1.76x on an AMD EPYC and 1.57x on an Intel Xeon, same commit.
        differences.append(f"device {a.device_name} vs {b.device_name}")
    if a.torch_version != b.torch_version:
        differences.append(f"torch {a.torch_version} vs {b.torch_version}")
    same = f"same device kind ({a.device_kind}), device ({a.device_name}) and torch "
    same += f"({a.torch_version})"
    return not differences, "; ".join(differences) or same


def _break_key(info: GraphBreakInfo) -> tuple[str, str, str, str]:
    where = info.location
    return (info.gb_type, *((where.file, where.function, where.code) if where else ("",) * 3))


def _describe_break(info: GraphBreakInfo) -> str:
    code = f" {info.gb_code}" if info.gb_code else ""
    where = info.location
    return info.gb_type + code + (f" at {where.file}:{where.line} ({where.code})" if where else "")


def _status_findings(base: TargetResult, new: TargetResult) -> Iterator[str]:
    if new.status in BROKEN and base.status not in BROKEN:
        e = new.error
        why = f": {e.type}: {e.message.splitlines()[0][:120]}" if e and e.message else ""
        yield f"{base.status.value} -> {new.status.value}{why}"
    lost = sorted(c.value for c in set(new.missed) - set(base.missed))
    if new.expected_flags and new.status not in BROKEN and lost:
        yield f"hazard no longer flagged by: {', '.join(lost)}"


def _fullgraph_findings(a: FullgraphResult, b: FullgraphResult) -> Iterator[str]:
    if a.status is CheckStatus.PASSED and b.status is CheckStatus.FAILED:
        cause = f"{b.error_type}: {b.error_message}"
        if b.graph_break is not None:
            cause = _describe_break(b.graph_break)
        yield f"no longer compiles with fullgraph=True: {cause}"


def _break_findings(a: BreaksResult, b: BreaksResult) -> Iterator[str]:
    if b.graph_count > a.graph_count or b.break_count > a.break_count:
        yield (
            f"graphs {a.graph_count} -> {b.graph_count}, breaks {a.break_count} -> {b.break_count}"
        )
    known = {_break_key(info) for info in a.breaks}
    yield from (f"new break: {_describe_break(i)}" for i in b.breaks if _break_key(i) not in known)


def _recompile_findings(a: RecompilesResult, b: RecompilesResult) -> Iterator[str]:
    if b.max_frame_compiles > a.max_frame_compiles or b.total_compiles > a.total_compiles:
        guards = [g for step in b.steps for g in step.guard_failures]
        yield (
            f"compiles {a.total_compiles} -> {b.total_compiles}, most per frame "
            f"{a.max_frame_compiles} -> {b.max_frame_compiles} (budget {b.budget})"
            + (f"; guard: {guards[0][:120]}" if guards else "")
        )
    if b.limit_hit and not a.limit_hit:
        fallback = ", frames now run eagerly" if b.silent_fallback else ""
        yield f"recompile_limit {b.recompile_limit} now hit{fallback}"


def _parity_findings(a: ParityResult, b: ParityResult) -> Iterator[str]:
    passed_before = {(m.mode, m.dtype) for m in a.modes if m.passed}
    lost = [m for m in b.modes if not m.passed and (m.mode, m.dtype) in passed_before]
    for mode in lost:
        worst = max((d for d in (mode.output, mode.worst_grad) if d), key=lambda d: d.max_abs)
        missing = ", ".join(mode.grad_presence_mismatch)
        yield (
            f"{mode.mode.value} {mode.dtype}: {worst.name} max abs {worst.max_abs:.3g} "
            f"(atol {worst.atol:.1g}, rtol {worst.rtol:.1g})"
            + (f", grads only on one side: {missing}" if missing else "")
        )
    failed_now = b.status in (CheckStatus.FAILED, CheckStatus.ERROR)
    if not lost and a.status is CheckStatus.PASSED and failed_now:
        yield f"parity check {a.status.value} -> {b.status.value}"


def _exception_findings(a: ExceptionsResult, b: ExceptionsResult) -> Iterator[str]:
    matched_before = {c.name for c in a.cases if c.type_matches and c.message_matches}
    for case in b.cases:
        if case.name in matched_before and not (case.type_matches and case.message_matches):
            what = "type" if not case.type_matches else "message"
            message = case.compiled_message.splitlines()[0][:100] if case.compiled_message else ""
            yield (
                f"{case.name}: compiled {what} differs: eager {case.eager_type}, "
                f"compiled {case.compiled_type}: {message}"
            ).rstrip(": ")


# Each rule compares one check's results (a TargetResult field) where both runs hold one.
_CHECK_RULES: tuple[tuple[RegressionKind, str, Callable[[Any, Any], Iterator[str]]], ...] = (
    (RegressionKind.GRAPH_BREAK, "fullgraph", _fullgraph_findings),
    (RegressionKind.GRAPH_BREAK, "breaks", _break_findings),
    (RegressionKind.RECOMPILES, "recompiles", _recompile_findings),
    (RegressionKind.PARITY, "parity", _parity_findings),
    (RegressionKind.EXCEPTION_PARITY, "exceptions", _exception_findings),
    (RegressionKind.SHAPES, "shapes", extra.shapes_findings),
    (RegressionKind.EXPORT, "export", extra.export_findings),
    (RegressionKind.CACHE, "cache", extra.cache_findings),
    (RegressionKind.CUDAGRAPHS, "cudagraphs", extra.cudagraphs_findings),
    (RegressionKind.DISTRIBUTED, "distributed", extra.distributed_findings),
)


def compare_targets(base: TargetResult, new: TargetResult) -> list[Finding]:
    """Compile-status regressions of one target."""
    found = [(RegressionKind.STATUS, detail) for detail in _status_findings(base, new)]
    # A hazard's breaks and failures are the point: only its detection (status) counts.
    for kind, check, rule in () if new.expected_flags else _CHECK_RULES:
        a, b = getattr(base, check), getattr(new, check)
        found += [(kind, detail) for detail in rule(a, b)] if a and b else []
    gating = not new.informational
    return [Finding(target=new.name, kind=k, detail=d, gating=gating) for k, d in found]


def speedup_regressed(
    base_point: float, base_low: float, new_point: float, new_high: float, threshold: float
) -> bool:
    """A drop beyond `threshold` that also falls outside both confidence intervals."""
    dropped = new_point < base_point * (1.0 - threshold)
    return dropped and new_point < base_low and base_point > new_high


def _compare_speedups(
    base: RunReport, new: RunReport, threshold: float
) -> tuple[list[Finding], int, list[str]]:
    """The regressed speedups, how many were compared, and the baseline's not measured now."""
    before = {speedup_key(r): r for r in report_benchmarks(base) if r.speedup is not None}
    findings, compared = [], 0
    for result in report_benchmarks(new):
        old = before.get(speedup_key(result))
        if old is None or old.speedup is None:
            continue
        a, b = old.speedup, result.speedup
        if b is None:
            why = result.error.message.splitlines()[0][:120] if result.error else "no speedup"
            detail = f"was {a.point:.2f}x, now not measured: {why}"
        else:
            compared += 1
            if not speedup_regressed(a.point, a.low, b.point, b.high, threshold):
                continue
            detail = (
                f"{a.point:.2f}x [{a.low:.2f}, {a.high:.2f}] -> {b.point:.2f}x "
                f"[{b.low:.2f}, {b.high:.2f}] ({b.point / a.point - 1.0:+.0%})"
            )
        label = speedup_label(result)
        findings.append(Finding(target=label, kind=RegressionKind.SPEEDUP, detail=detail))
    measured_now = {speedup_key(r) for r in report_benchmarks(new)}
    unmeasured = [speedup_label(r) for key, r in before.items() if key not in measured_now]
    return findings, compared, unmeasured


def compare_reports(
    base: RunReport, new: RunReport, threshold: float = DEFAULT_THRESHOLD
) -> RegressionReport:
    """Every regression of `new` against `base`; see the module docstring for the rules."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a fraction in (0, 1), got {threshold}")
    findings: list[Finding] = []
    notes: list[str] = []
    common: list[str] = []
    if base.audit is not None and new.audit is not None:
        before = {t.name: t for t in base.audit.targets}
        now = {t.name: t for t in new.audit.targets}
        common = [name for name in now if name in before]
        findings += [f for name in common for f in compare_targets(before[name], now[name])]
        notes += _listed("baseline target(s) not in this run", [n for n in before if n not in now])
        notes += _listed("target(s) not in the baseline", [n for n in now if n not in before])
        a, b = base.audit.config.backend, new.audit.config.backend
        if a != b:
            notes.append(
                f"audit backends differ ({a} vs {b}); parity may differ for that reason alone"
            )
    elif (base.audit is None) != (new.audit is None):
        notes.append("only one of the two runs has audit results; compile status not compared")
    comparable, reason = timings_comparable(base, new)
    compared_speedups = 0
    if comparable:
        speed_findings, compared_speedups, unmeasured = _compare_speedups(base, new, threshold)
        findings += speed_findings
        notes += _listed("baseline speedup(s) not measured in this run", unmeasured)
    return RegressionReport(
        base_label=base.label,
        new_label=new.label,
        threshold=threshold,
        timings_compared=comparable,
        timings_reason=reason,
        targets_compared=len(common),
        speedups_compared=compared_speedups,
        findings=tuple(findings),
        notes=tuple(notes),
    )


def _listed(what: str, names: list[str], limit: int = 8) -> list[str]:
    """A note naming the first `limit` of `names`; none when there are none."""
    if not names:
        return []
    more = f", and {len(names) - limit} more" if len(names) > limit else ""
    return [f"{len(names)} {what}: {', '.join(names[:limit])}{more}"]


def render_regressions(result: RegressionReport) -> str:
    regressions = result.regressions
    targets = sorted({f.target for f in regressions})
    verdict = f"**{len(regressions)} regression(s)** in {len(targets)} target(s)"
    verdict = verdict if regressions else "**no regressions**"
    lines = [
        "## esper regression report",
        "",
        f"{verdict}: {result.targets_compared} targets and "
        f"{result.speedups_compared} speedups compared.",
        "",
        f"- baseline: {markdown_text(result.base_label)}",
        f"- this run: {markdown_text(result.new_label)}",
    ]
    if result.timings_compared:
        lines.append(
            f"- timings compared ({result.timings_reason}): a speedup regresses when it drops "
            f"by more than {result.threshold:.0%} and falls outside both 95 % CIs."
        )
    else:
        lines.append(
            f"- **timings not compared** ({result.timings_reason}): only compile-status items "
            "(status, graph breaks, recompiles, parity, exception parity) were compared."
        )
    rows = [
        [f.target, f.kind.value, f.detail, "yes" if f.gating else "no (informational)"]
        for f in result.findings
    ]
    findings = table("target | regression | detail | fails the run", rows, limit=220)
    if findings is not None:
        lines.extend(["", findings.markdown()])
    if result.notes:
        lines.extend(["", "Notes:", ""])
        lines.extend(f"- {markdown_text(note, 300)}" for note in result.notes)
    return "\n".join(lines) + "\n"
