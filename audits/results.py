"""Typed results of an audit run, and their versioned JSON form.

Every check returns one of the frozen result types below; a `TargetResult`
gathers them for one target and a `RunResult` gathers the targets with the
environment they ran in. The report layer only reads these types:
it loads `audit.json` with `RunResult.load(path)`.

Bump `SCHEMA_VERSION` when a field changes meaning or disappears; adding an
optional field with a default keeps old files readable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from audits.jsoncodec import from_jsonable, to_jsonable

SCHEMA_VERSION = 1
RESULT_FILENAME = "audit.json"


class CheckName(str, Enum):
    """The six checks run on each target, in the order they are reported."""

    FULLGRAPH = "fullgraph"
    BREAKS = "breaks"
    RECOMPILES = "recompiles"
    PARITY = "parity"
    EXCEPTIONS = "exceptions"
    COMPILE_TIME = "compile_time"
    SHAPES = "shapes"
    EXPORT = "export"


class FailOn(str, Enum):
    """The categories `--fail-on` names; each covers one or more checks."""

    BREAKS = "breaks"
    RECOMPILES = "recompiles"
    PARITY = "parity"
    EXCEPTIONS = "exceptions"

    @property
    def checks(self) -> tuple[CheckName, ...]:
        # A fullgraph failure is a graph break seen with fullgraph=True.
        if self is FailOn.BREAKS:
            return (CheckName.FULLGRAPH, CheckName.BREAKS)
        return (CheckName(self.value),)


class CheckStatus(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # the check ran and found a problem
    SKIPPED = "skipped"  # not applicable (no bad inputs, nothing compiled, ...)
    ERROR = "error"  # the check itself raised; see TargetResult.error


class TargetStatus(str, Enum):
    PASSED = "passed"  # no check flagged anything unexpected
    FAILED = "failed"  # a check flagged a problem, or a hazard went undetected
    ERROR = "error"  # an exception escaped a check
    TIMEOUT = "timeout"  # the target's subprocess ran past --timeout
    CRASHED = "crashed"  # the subprocess died (segfault, abort, out of memory)
    NOT_RUN = "not run"  # the run was interrupted before this target finished


class Mode(str, Enum):
    TRAIN = "train"
    EVAL = "eval"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLocation:
    """A frame of the user's code (never a frame inside torch)."""

    file: str  # relative to the working directory when inside it
    line: int
    function: str
    code: str  # the source line, stripped

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}: {self.code}"


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphBreakInfo:
    """Why dynamo stopped a graph, as torch explains it."""

    gb_type: str  # context-free break type, e.g. "Data-dependent branching"
    gb_code: str | None = None  # "GB0099" where the installed torch's registry knows the type
    doc_url: str | None = None
    explanation: str = ""
    hints: tuple[str, ...] = ()
    context: str = ""  # torch's developer context, e.g. the offending value
    location: SourceLocation | None = None


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
class TensorDiff:
    name: str  # "output" or "grad:<parameter name>"
    max_abs: float
    max_rel: float
    atol: float
    rtol: float
    passed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeParity:
    mode: Mode
    dtype: str
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
    error: ErrorInfo | None = None
    # Eager-vs-compiled measurements of host targets (unless --no-bench): benchmarks'
    # BenchmarkResult, serialized by its own codec so this schema does not depend on it.
    benchmarks: tuple[dict[str, Any], ...] = ()
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
        """Expected hazard flags that the run did not raise."""
        return tuple(n for n in self.expected_flags if n not in self.flagged)

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
class Environment:
    torch_version: str
    python_version: str
    platform: str
    device: str  # "cpu" or "cuda"
    device_name: str  # CPU model or GPU name
    cpu_count: int
    git_sha: str | None = None
    git_dirty: bool | None = None
    started_at: str = ""  # ISO 8601, UTC


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """The command line the run was made with, resolved."""

    backend: str
    device: str
    dtype: str
    quick: bool = False
    bench: bool = True
    hazards: bool = False
    timeout_s: float = 300.0
    jobs: int = 1
    threads_per_job: int = 1  # torch intra-op threads in each target's subprocess
    start_method: str = "fork"  # how the targets' subprocesses started (audits.start_method)
    fail_on: tuple[FailOn, ...] = tuple(FailOn)
    target_globs: tuple[str, ...] = ()
    user_targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    schema_version: int = SCHEMA_VERSION
    environment: Environment
    settings: RunSettings
    targets: tuple[TargetResult, ...] = ()
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"audit result schema {self.schema_version} is not the supported "
                f"version {SCHEMA_VERSION}"
            )

    @property
    def failed_targets(self) -> tuple[TargetResult, ...]:
        """Targets that make the run exit 1: --fail-on failures, errors, timeouts, crashes."""
        broken = (TargetStatus.ERROR, TargetStatus.TIMEOUT, TargetStatus.CRASHED)
        return tuple(
            t for t in self.targets if t.status in broken or t.failing(self.settings.fail_on)
        )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        return from_jsonable(cls, data)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / RESULT_FILENAME
        # Temp file then rename: a reader sees the old file or the whole new one.
        staged = directory / f".{RESULT_FILENAME}.{os.getpid()}.tmp"
        staged.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        os.replace(staged, path)
        return path

    @classmethod
    def load(cls, path: Path) -> RunResult:
        """Read `audit.json`, or the `audit.json` inside a run directory."""
        if path.is_dir():
            path = path / RESULT_FILENAME
        return cls.from_dict(json.loads(path.read_text()))
