"""The ladder table of a run: one row per rung and workload, measured or why not.

Rendering only. Each row names the commit and run it comes from, so rows measured in
different sessions (a GPU ablation spread over several device loans) can sit in one table
in the README without losing where each came from.
"""

from __future__ import annotations

from tabulate import tabulate

from benchmarks.results import BenchmarkResult, BenchmarkRun


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


def ladder_table(run: BenchmarkRun) -> str:
    """Rows in rung order for each workload; rungs the device cannot run say why."""
    measure = run.config.measure
    if measure.ladder is None:
        return ""
    env = run.environment
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
