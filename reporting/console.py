"""The console summary of a run, printed and written as its summary.txt.

The targets table, the speedups, the first problem of each failing target, the guard
comparison and a footer; a benchmark run's summary is reporting.bench_table's. The
tables are report.md's (reporting.audit_tables), less the columns report.md adds.
"""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path

from foundation.environment import EnvironmentRecord
from reporting import bench_table
from reporting.audit_tables import guards_table, status_label, targets_table
from reporting.extra_checks import FAILURE_LINES
from reporting.schema.audit import AuditRun, CheckStatus, GraphBreakInfo, TargetResult, TargetStatus
from reporting.schema.report import RunReport
from reporting.speedups import report_benchmarks

CONSOLE_OMITS = ("group", "expected flags (hazard)")


def _break_lines(info: GraphBreakInfo) -> list[str]:
    where = info.location
    return [
        f"graph break{f' [{info.gb_code}]' if info.gb_code else ''}: {info.gb_type}",
        *([f"  at {where.file}:{where.line}: {where.code}"] if where is not None else []),
        *([f"  why: {info.explanation}"] if info.explanation else []),
        *([f"  hint: {info.hints[0]}"] if info.hints else []),
        *([f"  docs: {info.doc_url}"] if info.doc_url else []),
    ]


def _recompile_lines(t: TargetResult) -> list[str]:
    r = t.recompiles
    if r is None or r.status is not CheckStatus.FAILED:
        return []
    limit = ""
    if r.limit_hit:
        limit = " (recompile_limit hit" + (", silent eager fallback)" if r.silent_fallback else ")")
    lines = [f"compiled {r.max_frame_compiles}x for a budget of {r.budget}{limit}"]
    step = next((s for s in r.steps if s.guard_failures or s.error), None)
    if step is not None and step.guard_failures:
        lines.append(f"  step {step.step!r}: guard failed: {step.guard_failures[0]}")
    stale = next((s for s in r.steps if s.stale_graph), None)
    if stale is not None:
        lines.append(
            f"  step {stale.step!r}: stale graph reused, compiled != eager: {stale.stale_graph}"
        )
    elif step is not None and step.error:
        lines.append(f"  step {step.step!r}: {step.error}")
    return lines


def first_problem(t: TargetResult) -> list[str]:
    """The first thing a user should look at for `t`, with its location and hint."""
    if t.error is not None:
        message = t.error.message.strip().splitlines()[0] if t.error.message else ""
        return [f"{t.error.type}: {message}"]
    lines: list[str] = []
    fg, breaks = t.fullgraph, t.breaks.breaks if t.breaks else ()
    info = fg.graph_break if fg and fg.graph_break else (breaks[0] if breaks else None)
    if info is not None:
        lines += _break_lines(info)
    elif fg is not None and fg.status is CheckStatus.FAILED:
        lines.append(f"fullgraph failed: {fg.error_type}: {fg.error_message}")
    lines += _recompile_lines(t)
    e = t.exceptions
    cases = e.cases if e is not None and e.status is CheckStatus.FAILED else ()
    if case := next((c for c in cases if not (c.type_matches and c.message_matches)), None):
        eager, compiled = case.eager_type or "nothing", case.compiled_type or "nothing"
        lines.append(f"bad input {case.name!r}: eager raises {eager}, compiled raises {compiled}")
    for check, lines_of in FAILURE_LINES.items():
        if (result := getattr(t, check)) is not None and result.status is CheckStatus.FAILED:
            lines += lines_of(result)
    lines += [
        f"device fault in {fault.check.value} on {fault.input}: {fault.message} "
        "(the checks after it ran in a fresh process)"
        for fault in t.device_faults
    ]
    p = t.parity
    modes = p.modes if p is not None and p.status is CheckStatus.FAILED else ()
    if mode := next((m for m in modes if not m.passed), None):
        worst = mode.output if not mode.output.passed else mode.worst_grad
        why = "a gradient exists in one run only"
        if worst is not None:
            why = f"{worst.name} differs, max abs {worst.max_abs:.2e}, max rel {worst.max_rel:.2e}"
        lines.append(f"parity ({mode.mode.value}): {why}")
    return lines


def problems(run: AuditRun, *, everything: bool = False) -> str:
    """The first problem of each failing target and detected hazard (all, with `everything`)."""
    blocks = []
    for t in run.targets:
        # Passed targets with flags are detected hazards: their breaks are the point.
        shown = t.status is not TargetStatus.PASSED or bool(t.expected_flags)
        if not (t.flagged or t.error is not None) or (
            not everything and (t.informational or not shown)
        ):
            continue
        if lines := first_problem(t):
            blocks.append("\n".join([f"{t.name}:", *("  " + line for line in lines)]))
    return "\n\n".join(blocks)


def footer(run: AuditRun, env: EnvironmentRecord, out: str) -> str:
    tally = ", ".join(f"{n} {s}" for s, n in Counter(map(status_label, run.targets)).items())
    failing = len(run.failed_targets)
    verdict = "OK" if failing == 0 else f"{failing} target(s) fail --fail-on"
    not_run = sum(t.status is TargetStatus.NOT_RUN for t in run.targets)
    if not_run:
        verdict = f"INCOMPLETE ({not_run} not run); so far {verdict}"
    return (
        f"{len(run.targets)} targets: {tally}. {verdict}. "
        f"{run.duration_s:.1f} s, backend {run.config.backend}, "
        f"{env.device_kind} ({env.device_name}), torch {env.torch_version}. Results: {out}"
    )


def render_summary(report: RunReport, out: str, *, verbose: bool = False) -> str:
    """The console summary of a run, also written to its folder as summary.txt."""
    if report.audit is None:
        assert report.benchmarks is not None  # a report holds one or the other, or both
        return bench_table.render(report.benchmarks, report.environment) + f"\nwrote {out}\n"
    run = report.audit
    targets = targets_table(run)
    speedups = bench_table.speedups_table(report_benchmarks(report))
    guards = guards_table(run)
    parts = [
        targets and targets.without(*CONSOLE_OMITS).console(),
        speedups and speedups.without(*bench_table.CONSOLE_OMITS).console(),
        problems(run, everything=verbose),
        guards and guards.console(),
        footer(run, report.environment, out),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def interrupted_note(
    run: AuditRun,
    out: Path,
    *,
    signal_name: str | None,
    resume_flags: tuple[str, ...] = (),
    baseline_skipped: bool = False,
) -> str:
    """What a signal did to the run, and the command that finishes it."""
    not_run = sum(t.status is TargetStatus.NOT_RUN for t in run.targets)
    cause = f"stopped by {signal_name}" if signal_name else "incomplete"
    if not not_run:
        return (
            f"audits.run: {cause} after every target had finished; "
            f"the report in {out} is complete\n"
        )
    command = shlex.join(["python", "-m", "audits.run", "--resume", str(out), *resume_flags])
    lines = [
        f"audits.run: {cause}: {len(run.targets) - not_run} of {len(run.targets)} targets "
        f"finished, {not_run} marked not run (any still running were killed). "
        f"Partial report: {out}",
        f"audits.run: to finish the run in that folder: {command}",
    ]
    if baseline_skipped:
        lines.append("audits.run: a partial run is neither compared with nor made a baseline")
    return "\n".join(lines) + "\n"
