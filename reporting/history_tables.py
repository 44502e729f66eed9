"""A history (reporting.history) rendered: console text, history.md and history.csv.

The console and history.md give the reports read, the regressions with the commit where
each appeared and the one that fixed it, and per target a row per commit: status, graph
breaks, compiles of the most-compiled frame against its budget, the first call's time and
each speedup with its 95 % CI. history.csv has every figure in long form, one row per
(commit, target, metric), written with the standard csv module. Nothing here reads files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from reporting import optional
from reporting.history import History, RegressionEvent, SpeedupPoint, TargetHistory, TargetPoint
from reporting.regressions import RegressionKind
from reporting.tables import Cell, Table, markdown_text, one_line, seconds

HISTORY_MD = "history.md"
HISTORY_CSV = "history.csv"
HISTORY_PNG = "history.png"
ABSENT = "not in report"
CSV_COLUMNS = ("index", "commit", "time_utc", "target", "metric", "value", "low", "high", "unit")


def speedup_cell(s: SpeedupPoint | None) -> Cell:
    if s is None or s.speedup is None:
        return None if s is None else "not measured"
    i = s.speedup
    return f"{i.point:.2f}x [{i.low:.2f}, {i.high:.2f}]"


def compiles_cell(point: TargetPoint) -> Cell:
    if point.max_frame_compiles is None:
        return None
    figure = f"{point.max_frame_compiles}/{point.compile_budget}"
    return figure + (" over" if point.over_budget else "")


def what(event: RegressionEvent) -> str:
    """The kind, and for a speedup which of the target's measurements: 'speedup [infer, ...]'."""
    if event.kind is RegressionKind.SPEEDUP and event.subject.startswith(event.target):
        return event.kind.value + event.subject[len(event.target) :]
    return event.kind.value


def _marks(history: History, row: TargetHistory, index: int) -> Cell:
    """What happened to the row's regressions at entry `index`; None when nothing did."""
    marks = [
        f"{change}: {what(event)}"
        for event in history.events_of(row.name)
        for change, at in (("appeared", event.appeared), ("fixed", event.fixed))
        if at == index
    ]
    return "; ".join(marks) or None


def _figures(row: TargetHistory, index: int) -> list[Cell]:
    """status, graph breaks, compiles, first call, then a speedup per setting of the row."""
    point = row.points[index]
    if point is None:
        return [ABSENT, None, None, None] + [None] * len(row.settings)
    by_setting = {s.setting: s for s in point.speedups}
    return [
        point.status.value if point.status is not None else None,
        None if point.graph_breaks is None else str(point.graph_breaks),
        compiles_cell(point),
        seconds(point.first_call_s),
        *(speedup_cell(by_setting.get(setting)) for setting in row.settings),
    ]


def target_table(history: History, row: TargetHistory) -> Table:
    """One target, a row per commit: history.md's table under the target's heading."""
    headers = ("commit", "status", "graph breaks", "compiles/budget", "first call")
    speedups = (f"speedup {setting}" for setting in row.settings)
    rows = tuple(
        (entry.label, *_figures(row, i), _marks(history, row, i))
        for i, entry in enumerate(history.entries)
    )
    return Table((*headers, *speedups, "regressions"), rows)


def targets_table(history: History) -> Table:
    """Every target commit by commit in one table, the speedups in one cell: the console's."""
    rows = []
    for row in history.targets:
        for i, entry in enumerate(history.entries):
            status, breaks, compiles, first, *speedups = _figures(row, i)
            measured = "; ".join(
                f"{setting}: {cell}"
                for setting, cell in zip(row.settings, speedups, strict=True)
                if cell is not None
            )
            rows.append(
                (row.name, entry.label, status, breaks, compiles, first, measured or None)
                + (_marks(history, row, i),)
            )
    headers = ("target", "commit", "status", "breaks", "compiles", "first call", "speedups")
    return Table((*headers, "regressions"), tuple(rows))


def entries_table(history: History) -> Table:
    rows = []
    for i, entry in enumerate(history.entries, start=1):
        env, subject = entry.report.environment, one_line(entry.subject or entry.source, 70)
        code = (env.short_sha, env.torch_version, one_line(env.device_name, 40))
        rows.append((str(i), entry.label, entry.time_utc, subject, *code))
    headers = ("#", "commit", "time (UTC)", "subject or file", "audited code", "torch", "device")
    return Table(headers, tuple(rows))


def events_table(history: History) -> Table:
    labels = [e.label for e in history.entries] + ["not fixed"]  # the last: e.fixed is None
    rows = tuple(
        (
            e.target,
            what(e),
            labels[e.appeared],
            labels[-1 if e.fixed is None else e.fixed],
            e.detail,
        )
        for e in history.events
    )
    return Table(("target", "regression", "first appeared", "fixed at", "detail"), rows)


def _notes(history: History, extra: Sequence[str]) -> list[str]:
    labels = [e.label for e in history.entries]
    return [*extra] + [
        f"{labels[i]} against {labels[i - 1]}: speedups not compared ({step.timings_reason})"
        for i, step in enumerate(history.comparisons, start=1)
        if not step.timings_compared
    ]


def _verdict(history: History) -> str:
    if not history.events:
        return "No regression between consecutive reports."
    still = len(history.open_events)
    return (
        f"{len(history.events)} regression(s) appeared; {len(history.events) - still} fixed "
        f"since, {still} still open at {history.entries[-1].label}."
    )


def history_text(history: History, notes: Sequence[str] = ()) -> str:
    """What the console prints: the reports, the regressions, then every target commit by commit."""
    lines = [
        f"history of {len(history.entries)} report(s), oldest first: {_verdict(history)}",
        "",
        entries_table(history).console(),
    ]
    if history.events:
        lines += ["", events_table(history).console()]
    lines += ["", targets_table(history).console()]
    lines += [f"note: {one_line(note, 300)}" for note in _notes(history, notes)]
    return "\n".join(lines) + "\n"


def history_markdown(history: History, notes: Sequence[str] = (), *, plotted: bool = True) -> str:
    """history.md; `plotted`: history.png was drawn beside it (else the line saying why not)."""
    trend = f"![trend]({HISTORY_PNG})" if plotted else f"({optional.PLOTS_MISSING}.)"
    lines = [
        "# esper history",
        "",
        f"{len(history.entries)} report(s), oldest first. **{_verdict(history)}**",
        "",
        "Regressions are those `python -m audits.compare` reports (speedups: a drop of more "
        f"than {history.threshold:.0%} outside both 95 % CIs), found between each report and "
        "the one before it. A regression is *fixed* at the first later report that no longer "
        "has it against the last report before it appeared.",
        "",
        entries_table(history).markdown(),
        "",
        "## Regressions",
        "",
        events_table(history).markdown() if history.events else "None.",
        "",
        "## Trend",
        "",
        trend,
        "",
        "## Per target",
        "",
    ]
    for row in history.targets:
        lines += [f"### {markdown_text(row.name)}", "", target_table(history, row).markdown(), ""]
    notes_now = _notes(history, notes)
    if notes_now:
        lines += ["## Notes", "", *(f"- {markdown_text(note, 300)}" for note in notes_now), ""]
    return "\n".join(lines)


def _metrics(point: TargetPoint) -> Iterator[tuple[str, object, object, object, str]]:
    if point.status is not None:
        yield "status", point.status.value, None, None, ""
    for name, value, unit in (
        ("graphs", point.graphs, "count"),
        ("graph_breaks", point.graph_breaks, "count"),
        ("max_frame_compiles", point.max_frame_compiles, "count"),
        ("compile_budget", point.compile_budget, "count"),
        ("first_call_s", point.first_call_s, "s"),
    ):
        if value is not None:
            yield name, value, None, None, unit
    for s in point.speedups:
        if s.speedup is not None:
            yield f"speedup [{s.setting}]", s.speedup.point, s.speedup.low, s.speedup.high, "x"


def history_csv(history: History) -> str:
    """One row per (commit, target, metric); a metric a report did not measure has no row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in history.targets:
        for index, (entry, point) in enumerate(zip(history.entries, row.points, strict=True), 1):
            if point is not None:
                at = (index, entry.label, entry.time_utc, row.name)
                writer.writerows((*at, *metric) for metric in _metrics(point))
    return buffer.getvalue()
