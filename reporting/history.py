"""A history: one audit's reports at successive commits, target by target.

`build_history` takes the reports oldest first and keeps, for each target and report,
what the history shows: status, graph breaks, compiles of the most-compiled frame against
the target's budget, the first (compiling) call's time and the speedups. Rows are the
audit's targets, each with the speedups measured on it, and the benchmark run's
workloads, which have speedups only.

Regressions are those of `reporting.regressions` (what `audits.compare` reports), found
between each report and the one before it, one event per (target, kind) however many
findings it has. An event stays open until a later report no longer has it *against the
last report before it appeared*: that report fixed it. A report without the target, or
whose timings do not compare with that report's, leaves the event open rather than
calling it fixed. Only gating findings count; informational targets fail on purpose.

reporting.history_tables renders a history as text, markdown and CSV, and
reporting.history_plot draws its trend.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace

from reporting import regressions
from reporting.regressions import DEFAULT_THRESHOLD, RegressionKind, RegressionReport
from reporting.schema.audit import TargetResult, TargetStatus
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.measures import Interval
from reporting.schema.report import RunReport
from reporting.speedups import compiled_setting, report_benchmarks, speedup_label


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One report of the history and where it came from."""

    commit: str  # the commit that committed the file (git), else the report's own short sha
    time_utc: str  # commit time (git) or the run's start, ISO 8601 with a Z
    source: str  # the file read: a path, or "<sha>:<path>" for a version from git
    report: RunReport
    subject: str = ""  # the commit's subject line, for a version from git
    label: str = ""  # unique within a history; build_history sets it from `commit`


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedupPoint:
    setting: str  # "infer, default, fp32": the speedup_label without the name
    label: str  # the speedup_label that regression findings name
    speedup: Interval | None  # None: the benchmark ran but measured no speedup


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPoint:
    """One target in one report; None fields were not measured there."""

    status: TargetStatus | None = None  # None for a benchmark-run workload
    graphs: int | None = None
    graph_breaks: int | None = None
    max_frame_compiles: int | None = None
    compile_budget: int | None = None
    first_call_s: float | None = None
    speedups: tuple[SpeedupPoint, ...] = ()

    @property
    def over_budget(self) -> bool:
        compiles, budget = self.max_frame_compiles, self.compile_budget
        return compiles is not None and budget is not None and compiles > budget


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetHistory:
    name: str
    points: tuple[TargetPoint | None, ...]  # one per entry; None: not in that report

    @property
    def settings(self) -> tuple[str, ...]:
        """Every speedup setting measured on this target, in the order first seen."""
        return tuple(dict.fromkeys(s.setting for p in self.points if p for s in p.speedups))


@dataclass(frozen=True, slots=True, kw_only=True)
class RegressionEvent:
    target: str  # the row it belongs to (a target, or a benchmark workload)
    subject: str  # what the findings name: the target, or the speedup's label
    kind: RegressionKind
    detail: str  # the first finding's detail, where it appeared
    appeared: int  # index of the entry where it first appeared
    fixed: int | None = None  # index of the entry that no longer has it; None: not fixed

    def __post_init__(self) -> None:
        if self.appeared < 1:
            raise ValueError(f"a regression appears against an earlier entry, got {self.appeared}")
        if self.fixed is not None and self.fixed <= self.appeared:
            raise ValueError(f"fixed at {self.fixed}, not after it appeared at {self.appeared}")


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    entries: tuple[HistoryEntry, ...]  # oldest first
    targets: tuple[TargetHistory, ...]  # the newest report's order, then older-only rows
    events: tuple[RegressionEvent, ...]  # in the order they appeared
    comparisons: tuple[RegressionReport, ...]  # entry i against entry i - 1, from i = 1
    threshold: float

    def target(self, name: str) -> TargetHistory | None:
        return next((t for t in self.targets if t.name == name), None)

    def events_of(self, target: str) -> tuple[RegressionEvent, ...]:
        return tuple(e for e in self.events if e.target == target)

    @property
    def open_events(self) -> tuple[RegressionEvent, ...]:
        return tuple(e for e in self.events if e.fixed is None)


def _speedup_point(result: BenchmarkResult) -> SpeedupPoint:
    setting = f"{result.task.value}, {compiled_setting(result)}, {result.precision.value}"
    return SpeedupPoint(setting=setting, label=speedup_label(result), speedup=result.speedup)


def _target_point(t: TargetResult) -> TargetPoint:
    rec = t.recompiles
    return TargetPoint(
        status=t.status,
        graphs=t.breaks.graph_count if t.breaks is not None else None,
        graph_breaks=t.breaks.break_count if t.breaks is not None else None,
        max_frame_compiles=rec.max_frame_compiles if rec is not None else None,
        compile_budget=rec.budget if rec is not None else None,
        first_call_s=t.compile_time.first_call_s if t.compile_time is not None else None,
        speedups=tuple(_speedup_point(b) for b in t.benchmarks),
    )


def points_of(report: RunReport) -> dict[str, TargetPoint]:
    """Each row's point in one report: audit targets, then benchmark-run workloads."""
    points: dict[str, TargetPoint] = {}
    if report.audit is not None:
        for t in report.audit.targets:
            points[t.name] = _target_point(t)
    if report.benchmarks is not None:
        for result in report.benchmarks.results:
            known = points.get(result.name, TargetPoint())
            speedups = (*known.speedups, _speedup_point(result))
            points[result.name] = replace(known, speedups=speedups)
    return points


def _unique_labels(entries: Sequence[HistoryEntry]) -> tuple[HistoryEntry, ...]:
    """Label each entry with its commit; a commit seen before gets #2, #3, ..."""
    seen: dict[str, int] = {}
    labelled = []
    for entry in entries:
        seen[entry.commit] = seen.get(entry.commit, 0) + 1
        count = seen[entry.commit]
        labelled.append(replace(entry, label=entry.commit + (f"#{count}" if count > 1 else "")))
    return tuple(labelled)


def _judgeable(
    event: RegressionEvent, against_base: RegressionReport, rows: dict[str, TargetPoint]
) -> bool:
    """Whether a report (its `rows`) can tell if `event` is still there: it has the
    target, and for a speedup the same measurement, on a device and torch that compare."""
    if event.kind is RegressionKind.SPEEDUP:
        return against_base.timings_compared and any(
            s.label == event.subject for s in (rows.get(event.target) or TargetPoint()).speedups
        )
    point = rows.get(event.target)
    return point is not None and point.status is not None


def _still_there(event: RegressionEvent, against_base: RegressionReport) -> bool:
    return any(f.target == event.subject and f.kind is event.kind for f in against_base.regressions)


def build_history(
    entries: Sequence[HistoryEntry], *, threshold: float = DEFAULT_THRESHOLD
) -> History:
    """Line up `entries` (oldest first) and date every regression between consecutive ones."""
    if not entries:
        raise ValueError("a history needs at least one report")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a fraction in (0, 1), got {threshold}")
    entries = _unique_labels(entries)
    rows = [points_of(e.report) for e in entries]
    owner = {  # a speedup label -> the row it is measured on
        speedup_label(r): r.name for e in entries for r in report_benchmarks(e.report)
    }
    comparisons: list[RegressionReport] = []
    events: list[RegressionEvent] = []
    open_ids: list[int] = []  # indexes into `events` of those not fixed yet
    for index in range(1, len(entries)):
        report = entries[index].report
        against: dict[int, RegressionReport] = {}  # base entry -> this report against it
        for i in list(open_ids):
            event = events[i]
            base = event.appeared - 1
            if base not in against:
                against[base] = regressions.compare_reports(entries[base].report, report, threshold)
            verdict = against[base]
            if _judgeable(event, verdict, rows[index]) and not _still_there(event, verdict):
                events[i] = replace(event, fixed=index)
                open_ids.remove(i)
        step = regressions.compare_reports(entries[index - 1].report, report, threshold)
        comparisons.append(step)
        still_open = {(events[i].subject, events[i].kind) for i in open_ids}
        for finding in step.regressions:
            if (finding.target, finding.kind) in still_open:
                continue  # worse again, or another finding of the same regression
            still_open.add((finding.target, finding.kind))
            open_ids.append(len(events))
            events.append(
                RegressionEvent(
                    target=owner.get(finding.target, finding.target),
                    subject=finding.target,
                    kind=finding.kind,
                    detail=finding.detail,
                    appeared=index,
                )
            )
    # The newest report's order, then older-only rows.
    names = dict.fromkeys(name for points in reversed(rows) for name in points)
    targets = tuple(
        TargetHistory(name=name, points=tuple(points.get(name) for points in rows))
        for name in names
    )
    return History(
        entries=entries,
        targets=targets,
        events=tuple(events),
        comparisons=tuple(comparisons),
        threshold=threshold,
    )


def keep_targets(history: History, globs: Sequence[str]) -> History:
    """The rows whose name matches any of `globs`, with their regressions; the rest are
    dropped after the fact, so regressions were dated against every target."""
    kept = tuple(t for t in history.targets if any(fnmatch.fnmatch(t.name, g) for g in globs))
    names = {t.name for t in kept}
    return replace(
        history, targets=kept, events=tuple(e for e in history.events if e.target in names)
    )
