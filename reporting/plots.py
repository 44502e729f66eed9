"""speedup.png and compile_time.png: horizontal bars, one per row, with CI whiskers.

Figures are drawn on the Agg canvas directly, without pyplot, so writing a report needs
no display and changes no global matplotlib state (pyplot's backend, its figure list).
The figure size is fixed per row count (`figure_size_px`) and saved without a tight
bounding box, so the PNG has exactly that many pixels, which the tests rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from foundation.files import atomic_path
from reporting.schema.report import RunReport
from reporting.speedups import report_benchmarks, speedup_label

DPI = 100
WIDTH_IN = 10.0
BASE_HEIGHT_IN = 1.5  # title and axis
ROW_HEIGHT_IN = 0.3
MAX_ROWS = 120  # beyond this the bars are unreadable; the table in report.md has them all
Draw = Callable[[Axes, range], None]


def _figure_size_in(rows: int) -> tuple[float, float]:
    return WIDTH_IN, BASE_HEIGHT_IN + ROW_HEIGHT_IN * max(1, min(rows, MAX_ROWS))


def figure_size_px(rows: int) -> tuple[int, int]:
    """(width, height) in pixels of a chart of `rows` bars (an empty chart counts one row)."""
    width_in, height_in = _figure_size_in(rows)
    return round(width_in * DPI), round(height_in * DPI)


def _bars(path: Path, title: str, labels: list[str], draw: Draw, empty: str, xlabel: str) -> Path:
    """One bar per label, which `draw` draws at each y; a chart without any says `empty`."""
    fig = Figure(figsize=_figure_size_in(len(labels)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    if not labels:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        y = range(len(labels))
        draw(ax, y)
        ax.set_yticks(list(y), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
    with atomic_path(path) as staged:
        fig.savefig(staged, format="png", dpi=DPI)
    return path


def write_speedup_png(report: RunReport, path: Path) -> Path:
    measured = [(r, r.speedup) for r in report_benchmarks(report) if r.speedup is not None]
    measured = measured[:MAX_ROWS]
    points = [s.point for _, s in measured]

    def draw(ax: Axes, y: range) -> None:
        whiskers = [[s.point - s.low for _, s in measured], [s.high - s.point for _, s in measured]]
        colors = ["tab:green" if p >= 1.0 else "tab:red" for p in points]
        ax.barh(y, points, xerr=whiskers, color=colors, alpha=0.8, capsize=3, ecolor="black")
        ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")

    title = f"compiled / eager speedup, 95 % CI · {report.environment.device_name}"
    xlabel = "speedup (×), above 1 the compiled run is faster"
    labels = [speedup_label(r) for r, _ in measured]
    return _bars(path, title, labels, draw, "no speedups measured in this run", xlabel)


def write_compile_time_png(report: RunReport, path: Path) -> Path:
    """First-call compile time per audit target, and cold/warm-cache compiles per benchmark.

    An audit compile is one measurement, so it has no whisker; a benchmark with both a
    cold- and a warm-cache compile draws the warm one as the low end of its whisker.
    """
    bars = []  # label, seconds, whisker below
    for t in report.audit.targets if report.audit is not None else ():
        if (audited := t.compile_time) is not None:
            first_call = audited.first_call_s + (audited.first_backward_s or 0.0)
            bars.append((t.name, first_call, 0.0))
    for r in report_benchmarks(report):
        if (c := r.compile_time) is not None:
            bars.append(
                (f"{speedup_label(r)} (cold cache)", c.cold_s, max(0.0, c.cold_s - c.warm_s))
            )
    values, low = [v for _, v, _ in bars[:MAX_ROWS]], [w for _, _, w in bars[:MAX_ROWS]]

    def draw(ax: Axes, y: range) -> None:
        ax.barh(y, values, color="tab:blue", alpha=0.8)
        spread = [i for i, below in enumerate(low) if below > 0]  # a lone measurement has none
        if spread:
            xerr = [[low[i] for i in spread], [0.0] * len(spread)]
            x = [values[i] for i in spread]
            ax.errorbar(x, spread, xerr=xerr, fmt="none", ecolor="black", capsize=3)

    title = f"compile time (first call, forward + backward) · {report.environment.device_name}"
    xlabel = "seconds (whisker: down to the warm-cache compile, where measured)"
    labels = [label for label, _, _ in bars[:MAX_ROWS]]
    return _bars(path, title, labels, draw, "no compile times in this run", xlabel)
