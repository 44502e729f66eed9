"""Console tables of a run: speedups with CIs, what slots and seeds cost, and the goals.

Rendering only: everything shown is already in the BenchmarkRun.
"""

from __future__ import annotations

from tabulate import tabulate

from foundation.environment import EnvironmentRecord
from reporting.schema.benchmark import BenchmarkResult, BenchmarkRun, Comparison, GoalVerdict

_MIB = 1024 * 1024


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _setting(result: BenchmarkResult) -> str:
    """The mode, or the ladder rung when a ladder ran (several rungs share a mode)."""
    return result.setting or result.mode.value


def _result_row(result: BenchmarkResult) -> list[str]:
    if result.error is not None or result.eager is None or result.compiled is None:
        message = result.error.message if result.error else "no timing"
        return [result.name, _setting(result), "-", "-", "ERROR", message[:60], "-", "-", "-"]
    speedup = result.speedup
    ci = "-" if speedup is None else f"{speedup.low:.2f}-{speedup.high:.2f}"
    compile_time = result.compile_time
    compile_text = (
        "-" if compile_time is None else f"{compile_time.cold_s:.1f} / {compile_time.warm_s:.1f}"
    )
    memory = "-"
    if result.memory_eager is not None and result.memory_compiled is not None:
        eager_mib = result.memory_eager.added_bytes / _MIB
        compiled_mib = result.memory_compiled.added_bytes / _MIB
        memory = f"{eager_mib:.0f} / {compiled_mib:.0f}"
    steady = "yes" if result.eager.steady and result.compiled.steady else "no"
    return [
        result.name,
        _setting(result),
        _rate(result.eager.throughput(result.items_per_call)),
        _rate(result.compiled.throughput(result.items_per_call)),
        "-" if speedup is None else f"{speedup.point:.2f}x",
        ci,
        compile_text,
        memory,
        steady,
    ]


def results_table(run: BenchmarkRun) -> str:
    headers = [
        "workload",
        "mode",
        "eager /s",
        "compiled /s",
        "speedup",
        "95% CI",
        "compile s cold/warm",
        "peak MiB eager/comp",
        "steady",
    ]
    return tabulate([_result_row(r) for r in run.results], headers=headers, disable_numparse=True)


def _comparison_row(comparison: Comparison) -> list[str]:
    e = comparison.estimate
    return [
        comparison.group,
        comparison.mode.value,
        comparison.name,
        f"{e.point:.3f}",
        f"{e.low:.3f}-{e.high:.3f}",
    ]


def comparisons_table(run: BenchmarkRun) -> str:
    headers = ["group", "mode", "comparison", "ratio", "95% CI"]
    return tabulate(
        [_comparison_row(c) for c in run.comparisons], headers=headers, disable_numparse=True
    )


def _goal_row(verdict: GoalVerdict) -> list[str]:
    return [verdict.goal, verdict.status.value.upper(), verdict.target, verdict.detail]


def goals_table(run: BenchmarkRun) -> str:
    headers = ["goal", "verdict", "target", "measured"]
    return tabulate([_goal_row(v) for v in run.goals], headers=headers, disable_numparse=True)


def _mhz(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} MHz"


def _rounds_line(run: BenchmarkRun) -> str:
    """Order and clocks of the first group's rounds (every group records its own in JSON)."""
    record = next((r.rounds for r in run.results if r.rounds is not None), None)
    if record is None:
        return ""
    order = (
        "a rotating order"
        if record.order_seed is None
        else f"a random order per round (seed {record.order_seed})"
    )
    start, end = record.clock_start, record.clock_end
    line = (
        f"\nRounds in {order}; CPU clock mean {_mhz(start.cpu_mhz_mean)} at start, "
        f"{_mhz(end.cpu_mhz_mean)} at end ({start.cpu_source})"
    )
    if start.gpu_sm_mhz is not None or end.gpu_sm_mhz is not None:
        line += f"; GPU SM {_mhz(start.gpu_sm_mhz)} / {_mhz(end.gpu_sm_mhz)}"
    else:
        line += f"; GPU SM clock {start.gpu_source}"
    return line


def _mfu(result: BenchmarkResult, device_kind: str) -> str:
    if result.mfu_compiled is not None:
        return f"{result.mfu_compiled * 100:.1f} %"
    return f"not measured ({device_kind}: no dense peak)"


def _row(result: BenchmarkResult, run_id: str, device_kind: str) -> list[str]:
    label = result.setting or result.mode.value
    if not result.ok or result.compiled is None or result.speedup is None:
        message = result.error.message if result.error is not None else "no timing"
        return [result.name, label, result.options.label, "ERROR", message[:50], "-", "-", run_id]
    speedup = result.speedup
    rate = result.compiled.throughput(result.items_per_call)
    return [
        result.name,
        label,
        result.options.label,
        f"{rate:,.0f} {result.unit}",
        f"{speedup.point:.2f}x [{speedup.low:.2f}, {speedup.high:.2f}]",
        _mfu(result, device_kind),
        result.attention_compiled or "-",
        run_id,
    ]


def ladder_table(run: BenchmarkRun, env: EnvironmentRecord) -> str:
    """Rows in rung order for each workload; rungs the device cannot run say why."""
    measure = run.config.measure
    if measure.ladder is None:
        return ""
    run_id = f"{env.short_sha} {env.time_utc}"
    rows = []
    names = list(dict.fromkeys(result.name for result in run.results))
    for name in names:
        by_setting = {r.setting: r for r in run.results if r.name == name}
        for rung in measure.rungs:
            found = by_setting.get(rung.label)
            if found is not None:
                rows.append(_row(found, run_id, env.device_kind))
            else:
                reason = rung.not_applicable or "not in this run"
                rows.append([name, rung.label, rung.options.label, "-", reason, "-", "-", run_id])
    headers = [
        "workload",
        f"{measure.ladder.value} rung",
        "levers",
        "compiled throughput",
        "vs eager [95% CI]",
        "MFU",
        "SDPA kernel",
        "commit, run",
    ]
    return tabulate(rows, headers=headers, disable_numparse=True)


def render(run: BenchmarkRun, env: EnvironmentRecord) -> str:
    measure = run.config.measure
    header = (
        f"esper benchmarks on {env.device_name} ({env.device_kind}), torch {env.torch_version}, "
        f"{env.threads} threads, {measure.precision.value}, backend {measure.backend}, "
        f"{measure.rounds} rounds, git {env.short_sha}, {env.time_utc}, {run.wall_s:.0f} s"
    )
    loads = [load for load in (env.load_average, run.load_average_end) if load is not None]
    if loads:
        header += "\n1-minute load average at start / end: " + " / ".join(
            f"{load[0]:.2f}" for load in loads
        )
        header += f" on {env.cpu_count} CPUs; this run's own threads add up to {env.threads}"
        busiest = max(load[0] for load in loads)
        if env.cpu_count is not None and busiest > env.cpu_count:
            header += (
                "\nWARNING: other jobs shared the CPUs during this run; eager steps with many "
                "small parallel regions suffer most, so ratios carry the neighbours' load"
            )
    header += _rounds_line(run)
    parts = [header, "", results_table(run)]
    if run.config.measure.ladder is not None:
        parts += ["", f"Ladder ({run.config.measure.ladder.value}):", ladder_table(run, env)]
    if run.comparisons:
        parts += [
            "",
            "Slot and seed costs (time ratios; 1.03 = 3 % slower):",
            comparisons_table(run),
        ]
    parts += ["", "Goals:", goals_table(run)]
    return "\n".join(parts) + "\n"
