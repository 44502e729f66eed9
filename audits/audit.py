"""Run every check on one target, in this process, and gather a `TargetResult`.

One fullgraph compile serves most checks: its first call is the fullgraph
verdict and the compile-time measurement, the same compiled module is then
replayed for recompiles, compared with eager for parity and fed the bad
inputs. Only the breaks check needs its own (fullgraph=False) compile. When
fullgraph fails, the later checks run on a fullgraph=False compile instead,
which is what a user falling back to plain torch.compile would get.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import torch

from audits.checks.benchmark import benchmark_target
from audits.checks.breaks import check_breaks
from audits.checks.cache import check_cache
from audits.checks.common import (
    CheckSettings,
    clone_module,
    compile_log,
    prepare_module,
    target_inputs,
)
from audits.checks.cudagraphs import check_cudagraphs
from audits.checks.device_fault import DeviceFaultError, fault_from, is_device_fault
from audits.checks.exceptions import check_exceptions
from audits.checks.export import check_export
from audits.checks.fullgraph import compile_time_result, first_call, fullgraph_result
from audits.checks.parity import check_parity, describe_mismatch
from audits.checks.recompiles import replay
from audits.checks.shapes import check_shapes
from audits.graph_breaks import break_from_exception, first_line
from audits.targets import Target, result_shell
from audits.torch_compat import dynamo_config_name, recompile_limit_errors
from reporting.schema.audit import (
    CheckName,
    CheckStatus,
    DeviceFault,
    ErrorInfo,
    FullgraphResult,
    TargetResult,
    TargetStatus,
)
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.vocabulary import Task


@contextlib.contextmanager
def dynamo_scope(overrides: tuple[tuple[str, Any], ...]) -> Iterator[None]:
    """Fresh dynamo caches and counters, with the target's config overrides undone on exit.

    Overrides may use either spelling of a renamed entry (recompile_limit, cache_size_limit).
    """
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    try:
        with torch._dynamo.config.patch({dynamo_config_name(k): v for k, v in overrides}):
            yield
    finally:
        torch._dynamo.reset()


@dataclass(slots=True)
class _Progress:
    """Results gathered so far, so that an exception keeps what came before it."""

    on_check: Callable[[CheckName], None] | None = None
    skip: frozenset[CheckName] = frozenset()  # checks an earlier process already ran
    check: CheckName | None = None
    results: dict[CheckName, Any] = field(default_factory=dict)
    done: set[CheckName] = field(default_factory=set)

    def wants(self, name: CheckName) -> bool:
        return name not in self.skip

    def enter(self, name: CheckName | None) -> None:
        """`name` starts (None: the checks ended); the check before it is done."""
        if self.check is not None and self.check is not name:
            self.done.add(self.check)
        self.check = name
        if name is not None and self.on_check is not None:
            self.on_check(name)

    def record(self, name: CheckName, result: Any) -> None:
        if self.wants(name):
            self.results[name] = result

    def run(self, name: CheckName, check: Callable[[], Any], *, reset: bool = False) -> None:
        """Record what `check` returns as `name`'s result, unless an earlier process did;
        with `reset`, on dynamo caches of its own."""
        if self.wants(name):
            self.enter(name)
            if reset:
                torch._dynamo.reset()
            self.record(name, check())


def status_of(result: TargetResult) -> TargetStatus:
    """A target's status from its checks: error, failed (or a hazard missed), passed."""
    if result.error is not None:
        return TargetStatus.ERROR
    if result.expected_flags:
        return TargetStatus.FAILED if result.missed else TargetStatus.PASSED
    return TargetStatus.FAILED if result.flagged else TargetStatus.PASSED


def _scenario_break(
    fullgraph: FullgraphResult, errors: tuple[tuple[str, BaseException], ...]
) -> FullgraphResult:
    """A break that appears only in a later scenario step still fails fullgraph."""
    limit_errors = recompile_limit_errors()
    for step, exc in errors:
        info = break_from_exception(exc)
        if info is not None and not isinstance(exc, limit_errors):
            return FullgraphResult(
                status=CheckStatus.FAILED,
                error_type=type(exc).__name__,
                error_message=f"in scenario step {step!r}: {first_line(exc)}",
                graph_break=info,
            )
    return fullgraph


# The order checks run in within one process. The first four share the fullgraph
# compile and its first call; breaks compiles on its own.
RUN_ORDER = (
    CheckName.FULLGRAPH,
    CheckName.RECOMPILES,
    CheckName.PARITY,
    CheckName.EXCEPTIONS,
    CheckName.BREAKS,
    CheckName.SHAPES,
    CheckName.EXPORT,
    CheckName.CACHE,
    CheckName.CUDAGRAPHS,
)
_NEED_FIRST_CALL = RUN_ORDER[:4]
# Run only when CheckSettings.optional names them, each on its own fresh compile (the
# cache check's compiles are in fresh processes of their own).
_OPTIONAL = {
    CheckName.SHAPES: check_shapes,
    CheckName.EXPORT: check_export,
    CheckName.CACHE: check_cache,
    CheckName.CUDAGRAPHS: check_cudagraphs,
}
EXAMPLE_INPUTS = "example inputs"


def _run_checks(target: Target, settings: CheckSettings, progress: _Progress) -> None:
    make_inputs = partial(target_inputs, target, settings)
    wanted = [c for c in _NEED_FIRST_CALL if progress.wants(c)]
    if wanted:
        _run_compiled_checks(target, settings, progress, make_inputs, wanted[0])
    module = partial(prepare_module, target, settings)
    progress.run(CheckName.BREAKS, lambda: check_breaks(target, module(), make_inputs), reset=True)
    for name, check in _OPTIONAL.items():
        if name.value in settings.optional:
            progress.run(name, partial(check, target, settings), reset=True)
    progress.enter(None)


def _run_compiled_checks(
    target: Target,
    settings: CheckSettings,
    progress: _Progress,
    make_inputs: Callable[[], tuple[Any, ...]],
    first: CheckName,
) -> None:
    # The first call is fullgraph's; in a process started after a device fault it is
    # charged to the first check that still needs it.
    progress.enter(first)
    module = prepare_module(target, settings)
    clone_module(module)(*make_inputs())  # the example must run in eager, or the target is wrong
    backward = target.modes[0] is Task.TRAIN
    compiled = target.compile(module, backend=settings.backend, fullgraph=True)
    mark = len(compile_log().ids)
    called = first_call(compiled, make_inputs(), backward=backward)
    fullgraph = fullgraph_result(called)
    progress.record(CheckName.FULLGRAPH, fullgraph)
    fullgraph_ok = called.error is None
    if not fullgraph_ok:
        torch._dynamo.reset()
        module = prepare_module(target, settings)
        compiled = target.compile(module, backend=settings.backend, fullgraph=False)
        mark = len(compile_log().ids)
        called = first_call(compiled, make_inputs(), backward=backward)
        if called.error is not None:
            raise called.error
    first_call_ids = compile_log().since(mark)

    if progress.wants(CheckName.RECOMPILES):
        progress.enter(CheckName.RECOMPILES)
        replayed = replay(
            target,
            module,
            compiled,
            make_inputs,
            fullgraph=fullgraph_ok,
            first_call_ids=first_call_ids,
            compare_with_eager=lambda: describe_mismatch(
                module, compiled, make_inputs, target.modes[0], settings.dtype
            ),
        )
        refined = _scenario_break(fullgraph, replayed.errors)
        if progress.wants(CheckName.FULLGRAPH) or refined is not fullgraph:
            progress.results[CheckName.FULLGRAPH] = refined
        progress.record(CheckName.RECOMPILES, replayed.result)
        progress.record(CheckName.COMPILE_TIME, compile_time_result(called, replayed.steady_s))

    progress.run(
        CheckName.PARITY,
        lambda: check_parity(module, compiled, make_inputs, target.modes, settings.dtype),
    )
    progress.run(
        CheckName.EXCEPTIONS,
        lambda: check_exceptions(
            module, compiled, target.bad_inputs, settings, fullgraph=fullgraph_ok
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPart:
    """What one process found; `rerun_skip` is set when a device fault ended it early."""

    result: TargetResult
    rerun_skip: frozenset[CheckName] | None = None  # checks the next process must not redo


def audit_target_part(
    target: Target,
    settings: CheckSettings,
    *,
    skip: frozenset[CheckName] = frozenset(),
    on_check: Callable[[CheckName], None] | None = None,
) -> AuditPart:
    """The checks not in `skip`, in this process, until the first device fault.

    A hazard always runs the optional checks it exists to trip (CheckName.SHAPES, EXPORT,
    CACHE, CUDAGRAPHS). A distributed target is refused: its ranks run in processes of
    their own, which audits.child launches (audits.distributed.launch).
    """
    if target.distributed is not None:
        raise ValueError(
            f"target {target.name!r} is distributed: audit it through the runner "
            "(python -m audits.run --distributed), whose child launches its ranks"
        )
    wanted = {c.value for c in target.expected_flags if c in _OPTIONAL}
    if not wanted <= settings.optional:
        settings = replace(settings, optional=settings.optional | wanted)
    start = time.perf_counter()
    progress = _Progress(on_check=on_check, skip=skip)
    error: ErrorInfo | None = None
    fault: DeviceFault | None = None
    try:
        with dynamo_scope(target.dynamo_config):
            _run_checks(target, settings, progress)
    except DeviceFaultError as exc:  # a check charged the fault to one of its inputs
        fault = exc.fault
        if exc.partial is not None:
            progress.results[fault.check] = exc.partial
    except Exception as exc:  # recorded in the result, never swallowed
        error = ErrorInfo(
            type=type(exc).__name__,
            message=str(exc),
            traceback=traceback.format_exc(),
            check=progress.check,
        )
        if is_device_fault(exc):
            fault = fault_from(exc, progress.check or CheckName.FULLGRAPH, EXAMPLE_INPUTS)
    found = progress.results
    measured: tuple[BenchmarkResult, ...] = ()
    if error is None and fault is None and settings.bench and target.benchmark:
        measured = benchmark_target(target, settings)  # failures land in each result's error
    result = result_shell(
        target,
        error=error,
        benchmarks=measured,
        duration_s=time.perf_counter() - start,
        device_faults=() if fault is None else (fault,),
        **{name.value: found.get(name) for name in CheckName},
    )
    result = replace(result, status=status_of(result))
    if fault is None:
        return AuditPart(result=result)
    ended = skip | progress.done | {fault.check}
    if CheckName.RECOMPILES in ended:
        ended |= {CheckName.COMPILE_TIME}
    left = [
        c
        for c in RUN_ORDER
        if c not in ended and (c not in _OPTIONAL or c.value in settings.optional)
    ]
    if not left and not (settings.bench and target.benchmark):
        return AuditPart(result=result)
    return AuditPart(result=result, rerun_skip=frozenset(ended))


def audit_target(
    target: Target, settings: CheckSettings, on_check: Callable[[CheckName], None] | None = None
) -> TargetResult:
    """All checks on `target`; an exception becomes status error with its traceback.

    `on_check` is told the name of each check as it starts (for progress display).
    After a device fault the checks still to do are not run here (audits.runner runs
    them in a fresh process).
    """
    return audit_target_part(target, settings, on_check=on_check).result


def merge_parts(earlier: TargetResult, later: TargetResult) -> TargetResult:
    """One target's result from two processes: the later one fills what the earlier left."""
    checks = {
        name.value: later.check(name) if later.check(name) is not None else earlier.check(name)
        for name in CheckName
    }
    merged = replace(
        earlier,
        error=earlier.error or later.error,
        benchmarks=later.benchmarks or earlier.benchmarks,
        duration_s=earlier.duration_s + later.duration_s,
        device_faults=earlier.device_faults + later.device_faults,
        **checks,
    )
    return replace(merged, status=status_of(merged))
