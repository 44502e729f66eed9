"""The benchmarks' goals (speedups, MFU, slot overheads), evaluated on a run: met, missed,
or not measured.

A verdict follows the point estimate (a ratio of medians); the detail gives the CI and
says when it straddles the threshold, so a reader sees how firm a verdict is. Goals for
hardware the run did not use read "not measured": nothing is inferred across devices.
Unit tests never assert these: they describe a machine, not the code.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from foundation.environment import EnvironmentRecord
from foundation.hardware import HardwareClass, hardware_class
from reporting.schema.benchmark import BenchmarkResult, Comparison, GoalStatus, GoalVerdict
from reporting.schema.measures import Interval
from reporting.schema.vocabulary import CompileMode, Precision


@dataclass(frozen=True, slots=True)
class Threshold:
    """A bound, built by at_least, at_most and within below."""

    target: str  # in words, for the report
    holds: Callable[[float], bool]
    straddled_by: Callable[[Interval], bool]


def at_least(value: float, unit: str = "x") -> Threshold:
    return Threshold(
        f">= {value:g}{unit}", lambda x: x >= value, lambda ci: ci.low < value <= ci.high
    )


def at_most(value: float) -> Threshold:
    return Threshold(f"<= {value:g}", lambda x: x <= value, lambda ci: ci.low <= value < ci.high)


def within(fraction: float) -> Threshold:
    low, high = 1.0 - fraction, 1.0 + fraction
    return Threshold(
        f"within {fraction:.0%} of 1",
        lambda x: low <= x <= high,
        lambda ci: ci.low < low or ci.high > high,
    )


class Metric(enum.Enum):
    SPEEDUP = "speedup"  # a result's compiled/eager throughput
    MFU = "mfu"  # a result's compiled MFU, in percent
    COMPARISON = "comparison"  # a named comparison of one group


class Hardware(enum.Enum):
    """Where a goal is judged: the CPU, or any GPU part of a class (foundation.hardware)."""

    CPU = "cpu"
    HOPPER = "hopper"  # H100 SXM/PCIe/NVL, H200, GH200: one goal for all

    def matches(self, environment: EnvironmentRecord) -> bool:
        if self is Hardware.CPU:
            return environment.device_kind == "cpu"
        found = hardware_class(environment.device_name)
        return environment.device_kind == "cuda" and found is HardwareClass(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Goal:
    goal: str  # stable identifier
    description: str
    hardware: Hardware = Hardware.CPU
    metric: Metric
    subject: str  # result name for SPEEDUP/MFU, "<comparison>@<group>" for COMPARISON
    threshold: Threshold
    precision: Precision = Precision.FP32


GOALS: tuple[Goal, ...] = (
    *(
        Goal(
            goal=f"cpu.{topology}.{task}.speedup",
            description=f"{host}, compiled/eager throughput",
            metric=Metric.SPEEDUP,
            subject=f"{topology}-small/{task}/bare",
            threshold=at_least(minimum),
        )
        for topology, task, host, minimum in (
            ("cnn", "infer", "CNNHost inference", 2.0),
            ("transformer", "infer", "TransformerHost inference", 1.2),
            ("transformer", "train", "TransformerHost training step", 1.0),
        )
    ),
    *(
        Goal(
            goal=f"cpu.{family}.{task}.dormant-vs-bare",
            description=f"{family} {task}: all slots dormant vs bare host, compiled (time ratio)",
            metric=Metric.COMPARISON,
            subject=f"dormant-vs-bare@{family}/{task}",
            threshold=within(0.03),
        )
        for family in ("cnn-small", "transformer-small")
        for task in ("infer", "train")
    ),
    *(
        Goal(
            goal=f"cpu.{family}.train.seed-training-cost",
            description=f"{family} train: (TRAINING seed - dormant) / seed alone fwd+bwd, compiled",
            metric=Metric.COMPARISON,
            subject=f"seed-training-overhead@{family}/train",
            threshold=at_most(1.0),
        )
        for family in ("cnn-small", "transformer-small")
    ),
    *(
        Goal(
            goal=f"hopper.gpt2-small.train.bf16.{metric.value}",
            description=f"TransformerHost gpt2-small training step, bf16, compiled{what}",
            hardware=Hardware.HOPPER,
            metric=metric,
            subject="transformer-gpt2-small/train/bare",
            threshold=threshold,
            precision=Precision.BF16,
        )
        for metric, what, threshold in (
            (Metric.SPEEDUP, "/eager throughput", at_least(1.5)),
            (Metric.MFU, " MFU", at_least(40.0, unit=" %")),
        )
    ),
)


def _verdict(
    goal: Goal, estimate: Interval | None, mode: CompileMode | None = None, why_missing: str = ""
) -> GoalVerdict:
    status, detail = GoalStatus.NOT_MEASURED, why_missing
    if estimate is not None:
        status = GoalStatus.MET if goal.threshold.holds(estimate.point) else GoalStatus.MISSED
        detail = f"{estimate.point:.3f} (95% CI {estimate.low:.3f}-{estimate.high:.3f})"
        if goal.threshold.straddled_by(estimate):
            detail += "; the CI straddles the threshold: not a firm verdict"
    return GoalVerdict(
        goal=goal.goal,
        description=goal.description if mode is None else f"{goal.description} [{mode.value}]",
        status=status,
        target=goal.threshold.target,
        measured=estimate,
        detail=detail,
    )


def _best_result(
    goal: Goal, results: Sequence[BenchmarkResult]
) -> tuple[BenchmarkResult | None, str]:
    """The goal's result in its precision; with several compiled modes, the fastest."""
    matching = [r for r in results if r.name == goal.subject and r.precision is goal.precision]
    if not matching:
        return None, f"{goal.subject} ({goal.precision.value}) was not in this run"
    working = [r for r in matching if r.ok and r.speedup is not None]
    if not working:
        first_error = next((r.error for r in matching if r.error is not None), None)
        return None, f"{goal.subject} failed: {first_error.message if first_error else 'no timing'}"
    default = [r for r in working if r.mode is CompileMode.DEFAULT]
    if goal.hardware is Hardware.CPU and default:
        return default[0], ""
    return max(working, key=lambda r: r.speedup.point if r.speedup else 0.0), ""


def evaluate_goal(
    goal: Goal,
    results: Sequence[BenchmarkResult],
    comparisons: Sequence[Comparison],
    environment: EnvironmentRecord,
) -> GoalVerdict:
    if not goal.hardware.matches(environment):
        why = f"needs {goal.hardware.value}; this run used {environment.device_name}"
        return _verdict(goal, None, why_missing=why)
    if goal.metric is Metric.COMPARISON:
        name, group = goal.subject.split("@")
        wanted = (name, group, CompileMode.DEFAULT)
        found = next((c for c in comparisons if (c.name, c.group, c.mode) == wanted), None)
        if found is None:
            why = f"{name} in {group} (default mode) was not measured"
            return _verdict(goal, None, why_missing=why)
        return _verdict(goal, found.estimate, found.mode)
    result, why = _best_result(goal, results)
    if result is None:
        return _verdict(goal, None, why_missing=why)
    if goal.metric is Metric.SPEEDUP:
        return _verdict(goal, result.speedup, result.mode)
    if result.mfu_compiled is None:
        return _verdict(
            goal, None, result.mode, f"no dense peak known for {environment.device_name}"
        )
    percent = result.mfu_compiled * 100.0
    return _verdict(goal, Interval(point=percent, low=percent, high=percent), result.mode)


def evaluate_goals(
    results: Sequence[BenchmarkResult],
    comparisons: Sequence[Comparison],
    environment: EnvironmentRecord,
) -> tuple[GoalVerdict, ...]:
    return tuple(evaluate_goal(goal, results, comparisons, environment) for goal in GOALS)
