"""The audit's settings record and typed results.

Every check returns one of the frozen result types below (or of the schema modules beside
it); a `TargetResult` gathers them for one target and an `AuditRun` the targets with the
settings the run was made with (`AuditConfig`, saved as is). The basics' GraphBreakInfo,
TensorDiff and SourceLocation are importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from foundation.cli import UsageError
from foundation.devices import DEVICES
from foundation.processes import AUTO as AUTO_START
from foundation.processes import START_METHODS
from reporting.schema.basics import CheckStatus, GraphBreakInfo, TensorDiff
from reporting.schema.basics import SourceLocation as SourceLocation
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.cache import CacheResult
from reporting.schema.cudagraphs import CudagraphsResult
from reporting.schema.distributed import DistributedResult
from reporting.schema.export import ExportResult
from reporting.schema.shapes import ShapesResult
from reporting.schema.vocabulary import Precision, Task

BACKENDS = ("eager", "aot_eager", "inductor")


class CheckName(str, Enum):
    """The checks run on each target, in the order they are reported; the last ones only
    when asked for (`--shapes`, `--export`, `--cache`, `--cudagraphs`). A distributed
    target (`--distributed`) runs the distributed check alone."""

    FULLGRAPH = "fullgraph"
    BREAKS = "breaks"
    RECOMPILES = "recompiles"
    PARITY = "parity"
    EXCEPTIONS = "exceptions"
    COMPILE_TIME = "compile_time"
    SHAPES = "shapes"
    EXPORT = "export"
    CACHE = "cache"
    CUDAGRAPHS = "cudagraphs"
    DISTRIBUTED = "distributed"


class FailOn(str, Enum):
    """The categories `--fail-on` names; each covers one or more checks."""

    BREAKS = "breaks"
    RECOMPILES = "recompiles"
    PARITY = "parity"
    EXCEPTIONS = "exceptions"
    SHAPES = "shapes"
    EXPORT = "export"
    CACHE = "cache"
    CUDAGRAPHS = "cudagraphs"
    DISTRIBUTED = "distributed"

    @property
    def checks(self) -> tuple[CheckName, ...]:
        # A fullgraph failure is a graph break seen with fullgraph=True.
        if self is FailOn.BREAKS:
            return (CheckName.FULLGRAPH, CheckName.BREAKS)
        return (CheckName(self.value),)


class TargetStatus(str, Enum):
    PASSED = "passed"  # no check flagged anything unexpected
    FAILED = "failed"  # a check flagged a problem, or a hazard went undetected
    ERROR = "error"  # an exception escaped a check
    TIMEOUT = "timeout"  # the target's subprocess ran past --timeout
    CRASHED = "crashed"  # the subprocess died (segfault, abort, out of memory)
    NOT_RUN = "not run"  # the run was interrupted before this target finished


BROKEN = (TargetStatus.ERROR, TargetStatus.TIMEOUT, TargetStatus.CRASHED)  # no verdict at all


@dataclass(frozen=True, slots=True, kw_only=True)
class FullgraphResult:
    status: CheckStatus
    error_type: str | None = None  # exception class raised by the first fullgraph call
    error_message: str = ""  # first line of it
    graph_break: GraphBreakInfo | None = None  # set when the failure is a dynamo graph break


@dataclass(frozen=True, slots=True, kw_only=True)
class BreaksResult:
    status: CheckStatus
    graph_count: int
    break_count: int  # every break dynamo took, repeated ones included
    breaks: tuple[GraphBreakInfo, ...] = ()  # distinct by (type, location)
    ops_per_graph: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCompiles:
    """Compilations seen during one scenario step (or one repeated call)."""

    step: str
    calls: int
    compiles: int
    max_compiles: int | None = None  # the step's own budget, when the scenario sets one
    guard_failures: tuple[str, ...] = ()  # the failed guard behind each recompile
    error: str | None = None  # e.g. FailOnRecompileLimitHit under fullgraph=True
    # After a step that changed the module's state: where compiled and eager outputs or
    # gradients differ, a cached graph was reused although the state it baked in is gone
    # (a guard too weak to notice the change). None when they agree or were not compared.
    stale_graph: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecompilesResult:
    status: CheckStatus
    fullgraph: bool  # whether the replay ran on the fullgraph=True compile
    total_compiles: int  # dynamo compilations over the replay, all frames
    max_frame_compiles: int  # compilations of the most-compiled frame; compared with budget
    budget: int  # most compilations the target allows any one frame over the replay
    recompile_limit: int  # torch._dynamo.config.recompile_limit in force
    limit_hit: bool = False
    silent_fallback: bool = False  # limit hit without fullgraph: frames now run eagerly
    steps: tuple[StepCompiles, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeParity:
    mode: Task
    dtype: Precision
    output: TensorDiff
    worst_grad: TensorDiff | None = None  # the parameter gradient furthest from eager
    grads_compared: int = 0
    grad_presence_mismatch: tuple[str, ...] = ()  # params with a grad in one run only
    fp64_eager_max_abs: float | None = None  # eager output vs an fp64 eager reference
    fp64_compiled_max_abs: float | None = None  # compiled output vs the same reference
    fp64_skipped: str | None = None  # why there is no fp64 reference, when there is none
    passed: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ParityResult:
    status: CheckStatus
    modes: tuple[ModeParity, ...] = ()

    @property
    def worst_abs(self) -> float | None:
        errors = [d.max_abs for m in self.modes for d in (m.output, m.worst_grad) if d]
        return max(errors) if errors else None

    @property
    def worst_rel(self) -> float | None:
        errors = [d.max_rel for m in self.modes for d in (m.output, m.worst_grad) if d]
        return max(errors) if errors else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionCase:
    name: str
    expected_type: str  # what the target says eager raises
    eager_type: str | None  # None: eager raised nothing
    eager_message: str
    compiled_type: str | None
    compiled_message: str
    type_matches: bool
    message_matches: bool
    graph_break: GraphBreakInfo | None = None  # when the compiled error is a dynamo error


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionsResult:
    status: CheckStatus
    fullgraph: bool  # whether the bad inputs went through the fullgraph=True compile
    cases: tuple[ExceptionCase, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileTimeResult:
    status: CheckStatus
    first_call_s: float  # forward call that compiles, wall time
    steady_state_s: float | None = None  # median forward after compiling
    steady_calls: int = 0
    first_backward_s: float | None = None  # backward that compiles (train mode only)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    type: str
    message: str
    traceback: str = ""
    check: CheckName | None = None  # the check that was running, when known


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceFault:
    """A CUDA error that leaves the process's context unusable (a device-side assert).

    The check that hit it and the checks after it in the same process cannot be
    trusted, so the checks still to do ran in a fresh process.
    """

    check: CheckName  # the check that was running
    input: str  # the bad input's name, or "example inputs"
    error_type: str
    message: str  # first line of the error
    not_run: tuple[str, ...] = ()  # bad inputs of the exceptions check left after the fault


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetResult:
    name: str
    group: str  # "isolation", "blueprint", "host", "stage", "lifecycle", "guard", "hazard", "user"
    description: str = ""
    status: TargetStatus
    duration_s: float = 0.0
    # Hazards are wrong on purpose: these checks are expected to fail on them.
    expected_flags: tuple[CheckName, ...] = ()
    # Report-only targets (e.g. the guard comparison) never fail the run.
    informational: bool = False
    fullgraph: FullgraphResult | None = None
    breaks: BreaksResult | None = None
    recompiles: RecompilesResult | None = None
    parity: ParityResult | None = None
    exceptions: ExceptionsResult | None = None
    compile_time: CompileTimeResult | None = None
    shapes: ShapesResult | None = None  # with --shapes
    export: ExportResult | None = None  # with --export
    cache: CacheResult | None = None  # with --cache
    cudagraphs: CudagraphsResult | None = None  # with --cudagraphs
    distributed: DistributedResult | None = None  # distributed targets only (--distributed)
    error: ErrorInfo | None = None
    # Eager-vs-compiled measurements of host targets (unless --no-bench).
    benchmarks: tuple[BenchmarkResult, ...] = ()
    # CUDA errors that ended one of the target's processes; the checks after each ran anew.
    device_faults: tuple[DeviceFault, ...] = ()

    def check(self, name: CheckName) -> Any:
        return getattr(self, name.value)

    @property
    def flagged(self) -> tuple[CheckName, ...]:
        """Checks whose status is FAILED."""
        return tuple(
            n for n in CheckName if (r := self.check(n)) and r.status is CheckStatus.FAILED
        )

    @property
    def missed(self) -> tuple[CheckName, ...]:
        """Expected hazard flags that the run did not raise.

        A check that could not run here is no miss (cudagraphs on a CPU, cache with
        another backend than inductor): its result is SKIPPED and says why.
        """
        return tuple(
            n
            for n in self.expected_flags
            if n not in self.flagged
            and not ((r := self.check(n)) and r.status is CheckStatus.SKIPPED)
        )

    def failing(self, fail_on: tuple[FailOn, ...]) -> tuple[CheckName, ...]:
        """Checks that count against `--fail-on` for this target.

        A clean target fails on any flag; a hazard fails when one of its
        expected flags is missing (extra flags on a hazard are reported only);
        an informational target never fails.
        """
        if self.informational:
            return ()
        watched = {c for category in fail_on for c in category.checks}
        if self.expected_flags:
            return tuple(c for c in self.missed if c in watched)
        return tuple(c for c in self.flagged if c in watched)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditConfig:
    """What `python -m audits.run` was asked to do; saved as is in the report.

    The parser builds it from the command line; before the first target runs, the run
    resolves `device`, `jobs`, `threads_per_job` and `start_method` ("auto", None) into
    what it uses, and the report keeps the resolved record.
    """

    target_globs: tuple[str, ...] = ()  # built-in (and hazard) names to keep; empty keeps all
    user_targets: tuple[str, ...] = ()  # package.module:factory specs
    backend: str = "inductor"
    device: str = "auto"
    dtype: Precision = Precision.FP32
    quick: bool = False
    bench: bool = True  # eager-vs-compiled throughput of the host targets
    shapes: bool = False  # sweep the targets' dynamic dims (seconds per target: a flag)
    export: bool = False  # torch.export each target, strict and non-strict
    cache: bool = False  # compile each target in 3 fresh processes (about a minute each: a flag)
    cudagraphs: bool = False  # reduce-overhead's CUDA graphs over the scenario (CUDA only)
    distributed: bool = False  # also the DDP/FSDP2 targets, 2 gloo ranks each (a flag: slow)
    hazards: bool = False
    timeout_s: float = 300.0
    jobs: int | None = None  # None: one per CPU core on cpu, 1 on cuda
    threads_per_job: int | None = None  # torch intra-op threads per child; None: CPUs / jobs
    start_method: str = AUTO_START  # how children start; auto: fork on a CPU build
    out: str | None = None  # None: reports/<UTC time>-<short sha>[-dirty]
    fail_on: tuple[FailOn, ...] = tuple(FailOn)  # empty: --fail-on none
    verbose: bool = False
    baseline: str | None = None  # FILE, or "auto": reports/baseline/<device>-torch<version>.json
    update_baseline: bool = False  # write this run's report as the baseline instead of comparing
    threshold: float = 0.10  # relative speedup drop that is a regression (if outside both CIs)
    resume: str | None = None  # an interrupted run's folder: audit its "not run" targets there

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(
                f"--backend {self.backend!r}: valid backends are {', '.join(BACKENDS)}"
            )
        if self.device not in DEVICES:
            raise UsageError(f"--device {self.device!r}: valid devices are {', '.join(DEVICES)}")
        if not self.timeout_s > 0:
            raise UsageError(f"--timeout {self.timeout_s!r}: must be a number of seconds > 0")
        if self.jobs is not None and self.jobs < 1:
            raise UsageError(f"--jobs {self.jobs!r}: must be an integer >= 1")
        if self.start_method not in (AUTO_START, *START_METHODS):
            raise UsageError(
                f"--start-method {self.start_method!r}: valid methods are "
                f"{', '.join((AUTO_START, *START_METHODS))}"
            )
        if not 0.0 < self.threshold < 1.0:
            raise UsageError(
                f"--threshold {self.threshold!r}: must be a fraction in (0, 1), e.g. 0.10"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRun:
    config: AuditConfig
    targets: tuple[TargetResult, ...] = ()
    duration_s: float = 0.0
    # Optional torch APIs the checks use that this torch lacks ("torch.export.draft_export"):
    # where one is missing the check says "not available" instead of failing.
    missing_apis: tuple[str, ...] = ()

    @property
    def failed_targets(self) -> tuple[TargetResult, ...]:
        """Targets that make the run exit 1: --fail-on failures, errors, timeouts, crashes."""
        return tuple(
            t for t in self.targets if t.status in BROKEN or t.failing(self.config.fail_on)
        )
