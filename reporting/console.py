"""The console summary of a run: a table, then the first problem of each failing target.

Pure rendering of a report (the benchmarks' tables are in reporting.bench_table);
the same text is printed and written as the run's summary.txt. Nothing here compiles
or prints.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from tabulate import tabulate

from foundation.environment import EnvironmentRecord
from reporting import bench_table
from reporting.schema.audit import (
    AuditRun,
    CheckStatus,
    ExceptionsResult,
    ParityResult,
    TargetResult,
    TargetStatus,
)
from reporting.schema.report import RunReport

_HEADERS = (
    "target",
    "status",
    "fullgraph",
    "graphs",
    "breaks",
    "compiles/budget",
    "parity max err",
    "exceptions",
    "first call s",
    "steady ms",
)


def _status(t: TargetResult) -> str:
    text = t.status.value
    if t.expected_flags and t.status is TargetStatus.PASSED:
        text = "detected"
    elif t.expected_flags and t.status is TargetStatus.FAILED:
        text = "MISSED"
    if t.informational:
        text += " (info)"
    return text


def _parity(p: ParityResult | None) -> str:
    if p is None:
        return "-"
    worst = p.worst_abs
    text = "-" if worst is None else f"{worst:.1e}"
    return text if p.status is CheckStatus.PASSED else f"FAIL {text}"


def _exceptions(e: ExceptionsResult | None) -> str:
    if e is None or e.status is CheckStatus.SKIPPED:
        return "-"
    same = sum(c.type_matches and c.message_matches for c in e.cases)
    text = f"{same}/{len(e.cases)} same"
    return text if e.status is CheckStatus.PASSED else f"FAIL {text}"


def _row(t: TargetResult) -> tuple[str, ...]:
    fg = (
        "-"
        if t.fullgraph is None
        else ("yes" if t.fullgraph.status is CheckStatus.PASSED else "NO")
    )
    graphs = "-" if t.breaks is None else str(t.breaks.graph_count)
    breaks = "-" if t.breaks is None else str(t.breaks.break_count)
    if t.recompiles is None:
        compiles = "-"
    else:
        r = t.recompiles
        compiles = f"{r.max_frame_compiles}/{r.budget}"
        if r.status is CheckStatus.FAILED:
            compiles = f"FAIL {compiles}" + (" limit hit" if r.limit_hit else "")
    ct = t.compile_time
    first = "-" if ct is None else f"{ct.first_call_s:.2f}"
    steady = "-" if ct is None or ct.steady_state_s is None else f"{ct.steady_state_s * 1e3:.2f}"
    return (
        t.name,
        _status(t),
        fg,
        graphs,
        breaks,
        compiles,
        _parity(t.parity),
        _exceptions(t.exceptions),
        first,
        steady,
    )


def summary_table(run: AuditRun) -> str:
    return tabulate([_row(t) for t in run.targets], headers=_HEADERS, disable_numparse=True)


def first_problem(t: TargetResult) -> list[str]:
    """The first thing a user should look at for `t`, with its location and hint."""
    if t.error is not None:
        return [
            f"{t.error.type}: {t.error.message.strip().splitlines()[0] if t.error.message else ''}"
        ]
    lines: list[str] = []
    fg = t.fullgraph
    breaks = t.breaks.breaks if t.breaks else ()
    info = fg.graph_break if fg and fg.graph_break else (breaks[0] if breaks else None)
    if info is not None:
        code = f" [{info.gb_code}]" if info.gb_code else ""
        lines.append(f"graph break{code}: {info.gb_type}")
        if info.location is not None:
            lines.append(f"  at {info.location.file}:{info.location.line}: {info.location.code}")
        if info.explanation:
            lines.append(f"  why: {info.explanation}")
        if info.hints:
            lines.append(f"  hint: {info.hints[0]}")
        if info.doc_url:
            lines.append(f"  docs: {info.doc_url}")
    elif fg is not None and fg.status is CheckStatus.FAILED:
        lines.append(f"fullgraph failed: {fg.error_type}: {fg.error_message}")
    r = t.recompiles
    if r is not None and r.status is CheckStatus.FAILED:
        step = next((s for s in r.steps if s.guard_failures or s.error), None)
        lines.append(
            f"compiled {r.max_frame_compiles}x for a budget of {r.budget}"
            + (
                " (recompile_limit hit" + (", silent eager fallback)" if r.silent_fallback else ")")
                if r.limit_hit
                else ""
            )
        )
        if step is not None and step.guard_failures:
            lines.append(f"  step {step.step!r}: guard failed: {step.guard_failures[0]}")
        stale = next((s for s in r.steps if s.stale_graph), None)
        if stale is not None:
            lines.append(
                f"  step {stale.step!r}: stale graph reused, compiled != eager: {stale.stale_graph}"
            )
        elif step is not None and step.error:
            lines.append(f"  step {step.step!r}: {step.error}")
    e = t.exceptions
    if e is not None and e.status is CheckStatus.FAILED:
        for case in e.cases:
            if not (case.type_matches and case.message_matches):
                eager = case.eager_type or "nothing"
                compiled = case.compiled_type or "nothing"
                lines.append(
                    f"bad input {case.name!r}: eager raises {eager}, compiled raises {compiled}"
                )
                break
    p = t.parity
    for fault in t.device_faults:
        lines.append(
            f"device fault in {fault.check.value} on {fault.input}: {fault.message} "
            "(the checks after it ran in a fresh process)"
        )
    if p is not None and p.status is CheckStatus.FAILED:
        for mode in p.modes:
            if not mode.passed:
                worst = mode.output if not mode.output.passed else mode.worst_grad
                if worst is None:
                    lines.append(f"parity ({mode.mode.value}): a gradient exists in one run only")
                else:
                    lines.append(
                        f"parity ({mode.mode.value}): {worst.name} differs, "
                        f"max abs {worst.max_abs:.2e}, max rel {worst.max_rel:.2e}"
                    )
                break
    return lines


def problems(run: AuditRun, *, everything: bool = False) -> str:
    """The first problem of each failing target and detected hazard (all, with `everything`)."""
    blocks = []
    for t in run.targets:
        if not (t.flagged or t.error is not None):
            continue
        # Passed targets with flags are detected hazards: their breaks are the point.
        shown = t.status is not TargetStatus.PASSED or bool(t.expected_flags)
        if not everything and (t.informational or not shown):
            continue
        lines = first_problem(t)
        if lines:
            blocks.append("\n".join([f"{t.name}:", *("  " + line for line in lines)]))
    return "\n\n".join(blocks)


def guard_comparison(run: AuditRun) -> str:
    """TransformerHost's two guards side by side, normal and error path, as measured."""
    rows = []
    for t in run.targets:
        if t.group != "guard":
            continue
        fg = t.fullgraph
        normal = (
            "-"
            if fg is None
            else ("one graph" if fg.status is CheckStatus.PASSED else f"breaks: {fg.error_type}")
        )
        if t.parity is not None:
            normal += ", parity " + ("ok" if t.parity.status is CheckStatus.PASSED else "FAIL")
        case = t.exceptions.cases[0] if t.exceptions and t.exceptions.cases else None
        error_path = (
            "-" if case is None else f"eager {case.eager_type} -> compiled {case.compiled_type}"
        )
        if case is not None and case.graph_break is not None:
            error_path += f" ({case.graph_break.gb_type})"
        rows.append(
            (
                t.name,
                normal,
                error_path,
                "same" if case and case.type_matches and case.message_matches else "DIFFERS",
            )
        )
    if not rows:
        return ""
    return tabulate(rows, headers=("guard / entry point", "normal path", "error path", "user sees"))


def footer(run: AuditRun, env: EnvironmentRecord, out: str) -> str:
    counts: dict[str, int] = {}
    for t in run.targets:
        label = _status(t)
        counts[label] = counts.get(label, 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
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


def speedup_table(run: AuditRun) -> str | None:
    """Eager vs compiled for the benchmarked targets: median ratio and its 95 % CI."""
    rows = []
    for result in (r for target in run.targets for r in target.benchmarks):
        task = result.task.value
        if result.speedup is None:
            why = result.error.message if result.error else "not measured"
            rows.append([result.name, task, "-", "-", why])
            continue
        s = result.speedup
        rows.append([result.name, task, f"{s.point:.2f}x", f"[{s.low:.2f}, {s.high:.2f}]", ""])
    if not rows:
        return None
    return tabulate(rows, headers=["benchmarked", "task", "speedup", "95% CI", "note"])


def render_summary(report: RunReport, out: str, *, verbose: bool = False) -> str:
    """The console summary of a run, also written to its folder as summary.txt."""
    if report.audit is None:
        assert report.benchmarks is not None  # a report holds one or the other, or both
        return bench_table.render(report.benchmarks, report.environment) + f"\nwrote {out}\n"
    run = report.audit
    parts = [summary_table(run)]
    speedups = speedup_table(run)
    if speedups:
        parts.append(speedups)
    details = problems(run, everything=verbose)
    if details:
        parts.append(details)
    guards = guard_comparison(run)
    if guards:
        parts.append(guards)
    parts.append(footer(run, report.environment, out))
    return "\n\n".join(parts) + "\n"


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
    done = len(run.targets) - not_run
    cause = f"stopped by {signal_name}" if signal_name else "incomplete"
    if not not_run:
        return (
            f"audits.run: {cause} after every target had finished; "
            f"the report in {out} is complete\n"
        )
    command = shlex.join(["python", "-m", "audits.run", "--resume", str(out), *resume_flags])
    lines = [
        f"audits.run: {cause}: {done} of {len(run.targets)} targets finished, {not_run} "
        f"marked not run (any still running were killed). Partial report: {out}",
        f"audits.run: to finish the run in that folder: {command}",
    ]
    if baseline_skipped:
        lines.append("audits.run: a partial run is neither compared with nor made a baseline")
    return "\n".join(lines) + "\n"
