"""Synthetic audit and benchmark results for the report-layer tests: no torch.compile."""

from __future__ import annotations

import dataclasses

from benchmarks.stats import summarize
from foundation.environment import EnvironmentRecord
from reporting.schema.audit import (
    AuditConfig,
    AuditRun,
    BreaksResult,
    CheckStatus,
    CompileTimeResult,
    ExceptionCase,
    ExceptionsResult,
    FullgraphResult,
    GraphBreakInfo,
    ModeParity,
    ParityResult,
    RecompilesResult,
    SourceLocation,
    StepCompiles,
    TargetResult,
    TargetStatus,
    TensorDiff,
)
from reporting.schema.benchmark import BenchmarkResult, BenchmarkRun, CompileTime, ModeTiming
from reporting.schema.benchmark_settings import MeasureConfig, RunConfig
from reporting.schema.measures import Interval
from reporting.schema.report import RunReport
from reporting.schema.vocabulary import CompileMode, Precision, Task

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


def environment(
    device_kind: str = "cpu",
    torch_version: str = "2.13.0",
    dirty: bool = False,
    time_utc: str = "2026-03-01T14:15:03Z",
    cpu: str = "Test CPU",
) -> EnvironmentRecord:
    return EnvironmentRecord(
        torch_version=torch_version,
        python_version="3.11.7",
        platform="Linux-x86_64",
        device_kind=device_kind,
        device_name=cpu if device_kind == "cpu" else "NVIDIA H100",
        cpu_model=cpu,
        cpu_count=2,
        threads=2,
        interop_threads=1,
        cuda_version=None if device_kind == "cpu" else "12.8",
        cuda_driver=None if device_kind == "cpu" else "570.1",
        cuda_capability=None if device_kind == "cpu" else "9.0",
        git_sha=SHA,
        git_dirty=dirty,
        time_utc=time_utc,
    )


def _diff(name: str, max_abs: float = 1e-7, passed: bool = True) -> TensorDiff:
    return TensorDiff(
        name=name, max_abs=max_abs, max_rel=max_abs * 10, atol=1e-5, rtol=1.3e-6, passed=passed
    )


def parity(passed: bool = True, max_abs: float = 1e-7) -> ParityResult:
    mode = ModeParity(
        mode=Task.TRAIN,
        dtype=Precision.FP32,
        output=_diff("output", max_abs, passed),
        worst_grad=_diff("grad:weight"),
        grads_compared=2,
        passed=passed,
    )
    return ParityResult(status=CheckStatus.PASSED if passed else CheckStatus.FAILED, modes=(mode,))


def graph_break(line: int = 12, gb_type: str = "Data-dependent branching") -> GraphBreakInfo:
    return GraphBreakInfo(
        gb_type=gb_type,
        gb_code="GB0170",
        doc_url="https://example.invalid/gb/GB0170",
        explanation="Detected data-dependent branching.",
        hints=("Use torch.where | torch.cond instead of an if on a tensor.",),
        location=SourceLocation(
            file="esper/kasmina/slot.py", line=line, function="forward", code="if x.sum() > 0:"
        ),
    )


def breaks(*infos: GraphBreakInfo) -> BreaksResult:
    return BreaksResult(
        status=CheckStatus.FAILED if infos else CheckStatus.PASSED,
        graph_count=1 + len(infos),
        break_count=len(infos),
        breaks=infos,
        ops_per_graph=(4,) * (1 + len(infos)),
    )


def recompiles(compiles: int = 1, budget: int = 1, guard: str = "") -> RecompilesResult:
    step = StepCompiles(
        step="steady", calls=4, compiles=compiles, guard_failures=(guard,) if guard else ()
    )
    return RecompilesResult(
        status=CheckStatus.PASSED if compiles <= budget else CheckStatus.FAILED,
        fullgraph=True,
        total_compiles=compiles,
        max_frame_compiles=compiles,
        budget=budget,
        recompile_limit=8,
        steps=(step,),
    )


def exceptions(type_matches: bool = True) -> ExceptionsResult:
    case = ExceptionCase(
        name="wrong-shape",
        expected_type="ValueError",
        eager_type="ValueError",
        eager_message="expected 3 channels",
        compiled_type="ValueError" if type_matches else "TorchRuntimeError",
        compiled_message="expected 3 channels" if type_matches else "Dynamo failed to run FX node",
        type_matches=type_matches,
        message_matches=type_matches,
    )
    return ExceptionsResult(
        status=CheckStatus.PASSED if type_matches else CheckStatus.FAILED,
        fullgraph=True,
        cases=(case,),
    )


def target(name: str = "host/cnn", **changes: object) -> TargetResult:
    """A clean target: fullgraph passes, one graph, compiles once, parity and exceptions match."""
    clean = TargetResult(
        name=name,
        group="host",
        status=TargetStatus.PASSED,
        duration_s=2.0,
        fullgraph=FullgraphResult(status=CheckStatus.PASSED),
        breaks=breaks(),
        recompiles=recompiles(),
        parity=parity(),
        exceptions=exceptions(),
        compile_time=CompileTimeResult(
            status=CheckStatus.PASSED,
            first_call_s=1.25,
            steady_state_s=2e-4,
            steady_calls=5,
            first_backward_s=0.5,
        ),
    )
    return dataclasses.replace(clean, **changes)


def audit_run(*targets: TargetResult, backend: str = "inductor") -> AuditRun:
    return AuditRun(
        config=AuditConfig(backend=backend, device="cpu", bench=False, jobs=2, threads_per_job=1),
        targets=targets or (target(),),
        duration_s=10.0,
    )


def _timing(mode: CompileMode, median: float) -> ModeTiming:
    samples = (median * 0.98, median, median * 1.02)
    return ModeTiming(
        mode=mode,
        per_call_s=samples,
        summary=summarize(samples),
        iters_per_block=10,
        warmup_blocks=3,
        steady=True,
        first_call_s=median * 100,
    )


def benchmark(
    name: str = "cnn-small/infer/bare", point: float = 2.0, low: float = 1.9, high: float = 2.1
) -> BenchmarkResult:
    """A speedup of `point` with the 95 % CI [low, high]."""
    eager_median = 0.010
    return BenchmarkResult(
        name=name,
        group=name.rsplit("/", 1)[0],
        task=Task.INFER,
        variant="bare",
        device="cpu",
        precision=Precision.FP32,
        backend="inductor",
        mode=CompileMode.DEFAULT,
        unit="images/s",
        items_per_call=32,
        eager=_timing(CompileMode.EAGER, eager_median),
        compiled=_timing(CompileMode.DEFAULT, eager_median / point),
        speedup=Interval(point=point, low=low, high=high),
        per_round_speedup=(point,) * 3,
        compile_time=CompileTime(cold_s=6.0, warm_s=0.5),
        memory_eager=None,
        memory_compiled=None,
        flops_per_call=None,
        mfu_eager=None,
        mfu_compiled=None,
    )


def benchmark_run(*results: BenchmarkResult) -> BenchmarkRun:
    return BenchmarkRun(
        config=RunConfig(measure=MeasureConfig(), workloads=("cnn-*",)),
        results=results,
        comparisons=(),
        goals=(),
        wall_s=12.0,
    )


def report(
    *targets: TargetResult,
    speedups: tuple[BenchmarkResult, ...] = (),
    env: EnvironmentRecord | None = None,
    backend: str = "inductor",
) -> RunReport:
    """An audit of `targets` (a clean one by default), plus a benchmark run when `speedups`."""
    env = env or environment()
    return RunReport(
        environment=env,
        audit=audit_run(*targets, backend=backend),
        benchmarks=benchmark_run(*speedups) if speedups else None,
    )


def with_audit_benchmark(t: TargetResult, result: BenchmarkResult) -> TargetResult:
    """The audit's hook: a host target carrying its benchmark result."""
    return dataclasses.replace(t, benchmarks=(result,))
