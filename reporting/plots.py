"""speedup.png and compile_time.png: horizontal bars, one per row, with CI whiskers.

Figures are drawn on the Agg canvas directly, without pyplot, so writing a report needs
no display and changes no global matplotlib state (pyplot's backend, its figure list).
The figure size is fixed per row count
(`figure_size_px`) and saved without a tight bounding box, so the PNG has exactly that
many pixels, which the tests rely on.
"""

from __future__ import annotations

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


def figure_size_px(rows: int) -> tuple[int, int]:
    """(width, height) in pixels of a chart of `rows` bars (an empty chart counts one row)."""
    width_in, height_in = _figure_size_in(rows)
    return round(width_in * DPI), round(height_in * DPI)


def _figure_size_in(rows: int) -> tuple[float, float]:
    return WIDTH_IN, BASE_HEIGHT_IN + ROW_HEIGHT_IN * max(1, min(rows, MAX_ROWS))


def _figure(rows: int) -> tuple[Figure, Axes]:
    fig = Figure(figsize=_figure_size_in(rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as staged:
        fig.savefig(staged, format="png", dpi=DPI)


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def write_speedup_png(report: RunReport, path: Path) -> Path:
    measured = [r for r in report_benchmarks(report) if r.speedup is not None][:MAX_ROWS]
    fig, ax = _figure(len(measured))
    ax.set_title(
        f"compiled / eager speedup, 95 % CI · {report.environment.device_name}", fontsize=10
    )
    if not measured:
        _empty(ax, "no speedups measured in this run")
    else:
        labels = [speedup_label(r) for r in measured]
        points = [r.speedup.point for r in measured]  # type: ignore[union-attr]
        below = [r.speedup.point - r.speedup.low for r in measured]  # type: ignore[union-attr]
        above = [r.speedup.high - r.speedup.point for r in measured]  # type: ignore[union-attr]
        colors = ["tab:green" if p >= 1.0 else "tab:red" for p in points]
        y = range(len(measured))
        ax.barh(y, points, xerr=[below, above], color=colors, alpha=0.8, capsize=3, ecolor="black")
        ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_yticks(list(y), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("speedup (×), above 1 the compiled run is faster")
    _save(fig, path)
    return path


def write_compile_time_png(report: RunReport, path: Path) -> Path:
    """First-call compile time per audit target, and cold/warm-cache compiles per benchmark.

    An audit compile is one measurement, so it has no whisker; a benchmark with both a
    cold- and a warm-cache compile draws the warm one as the low end of its whisker.
    """
    labels: list[str] = []
    values: list[float] = []
    low: list[float] = []
    if report.audit is not None:
        for t in report.audit.targets:
            if t.compile_time is not None:
                labels.append(t.name)
                values.append(
                    t.compile_time.first_call_s + (t.compile_time.first_backward_s or 0.0)
                )
                low.append(0.0)
    for r in report_benchmarks(report):
        if r.compile_time is not None:
            labels.append(f"{speedup_label(r)} (cold cache)")
            values.append(r.compile_time.cold_s)
            low.append(max(0.0, r.compile_time.cold_s - r.compile_time.warm_s))
    labels, values, low = labels[:MAX_ROWS], values[:MAX_ROWS], low[:MAX_ROWS]
    fig, ax = _figure(len(values))
    ax.set_title(
        f"compile time (first call, forward + backward) · {report.environment.device_name}",
        fontsize=10,
    )
    if not values:
        _empty(ax, "no compile times in this run")
    else:
        y = range(len(values))
        ax.barh(y, values, color="tab:blue", alpha=0.8)
        spread = [i for i, below in enumerate(low) if below > 0]  # a lone measurement has none
        if spread:
            ax.errorbar(
                [values[i] for i in spread],
                spread,
                xerr=[[low[i] for i in spread], [0.0] * len(spread)],
                fmt="none",
                ecolor="black",
                capsize=3,
            )
        ax.set_yticks(list(y), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("seconds (whisker: down to the warm-cache compile, where measured)")
    _save(fig, path)
    return path
