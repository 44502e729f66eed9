"""history.png: the trend of a history, commit by commit, in four panels.

Graph breaks and compiles are summed over the audited targets (with the number of targets
over their compile budget), the first call's time is the sum over the targets (the
compile cost of the whole audit) with the slowest target beside it, and every speedup is
a line with its 95 % CI. A dashed red line marks each commit where a regression
appeared, a dotted green one each commit that fixed one.

Like reporting.plots, drawn on the Agg canvas without pyplot, at a fixed size; this
module imports matplotlib, so callers import it only when `optional.plots_available()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from foundation.files import atomic_path
from reporting.history import History, TargetPoint

DPI = 100
SIZE_IN = (11.0, 9.0)
MAX_SPEEDUP_LINES = 12  # beyond this the legend hides the plot; history.csv has them all


def _total(points: list[TargetPoint | None], field: str) -> float | None:
    values = [v for p in points if p is not None and (v := getattr(p, field)) is not None]
    return sum(values) if values else None


def _mark_events(ax: Axes, history: History) -> None:
    for event in history.events:
        ax.axvline(event.appeared, color="tab:red", linestyle="--", linewidth=0.8, alpha=0.7)
        if event.fixed is not None:
            ax.axvline(event.fixed, color="tab:green", linestyle=":", linewidth=1.0, alpha=0.8)


def _line(ax: Axes, x: Sequence[int], values: Sequence[float | None], **style: Any) -> None:
    kept = [(i, v) for i, v in zip(x, values, strict=True) if v is not None]
    if kept:
        ax.plot([i for i, _ in kept], [v for _, v in kept], marker="o", **style)


def write_history_png(history: History, path: Path) -> Path:
    x = list(range(len(history.entries)))
    per_entry = [[t.points[i] for t in history.targets] for i in x]
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    (breaks, compiles), (timing, speed) = fig.subplots(2, 2, sharex=True)

    _line(breaks, x, [_total(p, "graph_breaks") for p in per_entry], label="graph breaks")
    _line(breaks, x, [_total(p, "graphs") for p in per_entry], label="graphs", alpha=0.6)
    breaks.set_title("graph breaks and graphs, summed over the targets shown", fontsize=10)

    _line(compiles, x, [_total(p, "max_frame_compiles") for p in per_entry], label="compiles")
    _line(compiles, x, [_total(p, "compile_budget") for p in per_entry], label="budget", alpha=0.6)
    over = [float(sum(q.over_budget for q in p if q is not None)) for p in per_entry]
    _line(compiles, x, over, label="targets over budget", color="tab:red")
    compiles.set_title("compiles of the most-compiled frame, summed", fontsize=10)

    _line(timing, x, [_total(p, "first_call_s") for p in per_entry], label="sum over targets")
    firsts = [[q.first_call_s for q in p if q and q.first_call_s is not None] for p in per_entry]
    _line(timing, x, [max(f, default=None) for f in firsts], label="slowest target", alpha=0.6)
    timing.set_title("first (compiling) call, seconds", fontsize=10)

    series = [(t, setting) for t in history.targets for setting in t.settings]
    for target, setting in series[:MAX_SPEEDUP_LINES]:
        measured = [
            (i, s.speedup)
            for i, p in enumerate(target.points)
            for s in (p.speedups if p is not None else ())
            if s.setting == setting and s.speedup is not None
        ]
        if measured:
            at, points = [i for i, _ in measured], [m.point for _, m in measured]
            yerr = [[m.point - m.low for _, m in measured], [m.high - m.point for _, m in measured]]
            label = f"{target.name} [{setting}]"
            speed.errorbar(at, points, yerr=yerr, marker="o", capsize=3, label=label)
    speed.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    speed.set_title("compiled / eager speedup, 95 % CI", fontsize=10)

    for ax in (breaks, compiles):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    labels = [e.label for e in history.entries]
    for ax in (breaks, compiles, timing, speed):
        _mark_events(ax, history)
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    with atomic_path(path) as staged:
        fig.savefig(staged, format="png", dpi=DPI)
    return path
