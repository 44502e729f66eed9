"""The benchmarks' tables: speedups with CIs, the ladder's rungs, what slots and seeds cost,
and the goals; and the console's header of a benchmark run. Rendering only: everything
shown is already in the BenchmarkRun.
"""

from __future__ import annotations

from collections.abc import Sequence

from foundation.environment import EnvironmentRecord
from reporting.schema.benchmark import BenchmarkResult, BenchmarkRun
from reporting.speedups import compiled_setting
from reporting.tables import Table, seconds, table

_MIB = 1024 * 1024
# What the console leaves out of the speedups table: the header line names the backend,
# and the throughputs say what the medians per call do.
CONSOLE_OMITS = ("backend", "eager per call", "compiled per call")
COSTS_NOTE = "time ratios; 1.03 = 3 % slower"


def _speedup_row(r: BenchmarkResult) -> list[str | None]:
    label = [r.name, r.task.value, compiled_setting(r), r.precision.value]
    if r.error is not None or r.eager is None or r.compiled is None:
        why = r.error.message if r.error else "no timing"
        return [*label, r.backend, None, None, None, None, "ERROR", why, None, None, None]
    s, cold, eager, compiled = r.speedup, r.compile_time, r.eager, r.compiled
    memory = None
    if r.memory_eager is not None and r.memory_compiled is not None:
        eager_mib, compiled_mib = r.memory_eager.added_bytes, r.memory_compiled.added_bytes
        memory = f"{eager_mib / _MIB:.0f} / {compiled_mib / _MIB:.0f}"
    return [
        *label,
        r.backend,
        *(f"{seconds(t.summary.median)} (IQR {seconds(t.summary.iqr)})" for t in (eager, compiled)),
        *(f"{t.throughput(r.items_per_call):,.0f}" for t in (eager, compiled)),
        None if s is None else f"{s.point:.2f}x",
        None if s is None else f"[{s.low:.2f}, {s.high:.2f}]",
        None if cold is None else f"{seconds(cold.cold_s)} / {seconds(cold.warm_s)}",
        memory,
        "yes" if eager.steady and compiled.steady else "no",
    ]


def speedups_table(results: Sequence[BenchmarkResult]) -> Table | None:
    headers = (
        "workload | task | mode | dtype | backend | eager per call | compiled per call | "
        "eager /s | compiled /s | speedup | 95% CI | compile cold / warm cache | "
        "peak MiB eager/comp | steady"
    )
    return table(headers, map(_speedup_row, results))


def comparisons_table(run: BenchmarkRun) -> Table | None:
    rows = [
        [c.group, c.mode.value, c.name, f"{c.estimate.point:.3f}"]
        + [f"{c.estimate.low:.3f}-{c.estimate.high:.3f}"]
        for c in run.comparisons
    ]
    return table("group | mode | comparison | ratio | 95% CI", rows)


def goals_table(run: BenchmarkRun) -> Table | None:
    rows = [[g.goal, g.status.value.upper(), g.target, g.detail] for g in run.goals]
    return table("goal | verdict | target | measured", rows)


def _ladder_row(r: BenchmarkResult, device_kind: str, run_id: str) -> list[str | None]:
    label, levers = r.setting or r.mode.value, r.options.label
    if not r.ok or r.compiled is None or r.speedup is None:
        why = r.error.message if r.error is not None else "no timing"
        return [r.name, label, levers, "ERROR", why, None, None, run_id]
    s = r.speedup
    mfu = f"not measured ({device_kind}: no dense peak)"
    if r.mfu_compiled is not None:
        mfu = f"{r.mfu_compiled * 100:.1f} %"
    return [
        r.name,
        label,
        levers,
        f"{r.compiled.throughput(r.items_per_call):,.0f} {r.unit}",
        f"{s.point:.2f}x [{s.low:.2f}, {s.high:.2f}]",
        mfu,
        r.attention_compiled or None,
        run_id,
    ]


def ladder_table(run: BenchmarkRun, env: EnvironmentRecord) -> Table | None:
    """Rows in rung order for each workload; rungs the device cannot run say why."""
    measure = run.config.measure
    if measure.ladder is None:
        return None
    run_id = f"{env.short_sha} {env.time_utc}"
    rows = []
    for name in dict.fromkeys(r.name for r in run.results):
        by_setting = {r.setting: r for r in run.results if r.name == name}
        for rung in measure.rungs:
            found = by_setting.get(rung.label)
            if found is not None:
                rows.append(_ladder_row(found, env.device_kind, run_id))
            else:
                reason = rung.not_applicable or "not in this run"
                rows.append(
                    [name, rung.label, rung.options.label, None, reason, None, None, run_id]
                )
    headers = (
        f"workload | {measure.ladder.value} rung | levers | compiled throughput | "
        "vs eager [95% CI] | MFU | SDPA kernel | commit, run"
    )
    return table(headers, rows)


def _mhz(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} MHz"


def header(run: BenchmarkRun, env: EnvironmentRecord) -> str:
    """What ran where, how loaded the machine was, and the rounds' order and clocks."""
    measure = run.config.measure
    lines = [
        f"esper benchmarks on {env.device_name} ({env.device_kind}), torch {env.torch_version}, "
        f"{env.threads} threads, {measure.precision.value}, backend {measure.backend}, "
        f"{measure.rounds} rounds, git {env.short_sha}, {env.time_utc}, {run.wall_s:.0f} s"
    ]
    loads = [load[0] for load in (env.load_average, run.load_average_end) if load is not None]
    if loads:
        lines.append(
            "1-minute load average at start / end: "
            + " / ".join(f"{load:.2f}" for load in loads)
            + f" on {env.cpu_count} CPUs; this run's own threads add up to {env.threads}"
        )
        if env.cpu_count is not None and max(loads) > env.cpu_count:
            lines.append(
                "WARNING: other jobs shared the CPUs during this run; eager steps with many "
                "small parallel regions suffer most, so ratios carry the neighbours' load"
            )
    # The first group's rounds stand for all: every group records its own in report.json.
    rounds = next((r.rounds for r in run.results if r.rounds is not None), None)
    if rounds is not None:
        seed = rounds.order_seed
        order = "a rotating order" if seed is None else f"a random order per round (seed {seed})"
        start, end = rounds.clock_start, rounds.clock_end
        line = (
            f"Rounds in {order}; CPU clock mean {_mhz(start.cpu_mhz_mean)} at start, "
            f"{_mhz(end.cpu_mhz_mean)} at end ({start.cpu_source})"
        )
        if start.gpu_sm_mhz is not None or end.gpu_sm_mhz is not None:
            line += f"; GPU SM {_mhz(start.gpu_sm_mhz)} / {_mhz(end.gpu_sm_mhz)}"
        else:
            line += f"; GPU SM clock {start.gpu_source}"
        lines.append(line)
    return "\n".join(lines)


def render(run: BenchmarkRun, env: EnvironmentRecord) -> str:
    """The console summary of a benchmark run."""
    parts = [header(run, env)]
    speedups = speedups_table(run.results)
    if speedups is not None:
        parts.append(speedups.without(*CONSOLE_OMITS).console())
    ladder = run.config.measure.ladder
    for title, found in (
        (f"Ladder ({ladder.value if ladder else ''}):", ladder_table(run, env)),
        (f"Slot and seed costs ({COSTS_NOTE}):", comparisons_table(run)),
        ("Goals:", goals_table(run)),
    ):
        if found is not None:
            parts.append(f"{title}\n{found.console()}")
    return "\n\n".join(parts) + "\n"
