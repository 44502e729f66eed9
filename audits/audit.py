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
from typing import Any

import torch

from audits.checks.benchmark import benchmark_target
from audits.checks.breaks import check_breaks
from audits.checks.common import (
    CheckSettings,
    clone_module,
    compile_log,
    prepare_module,
    target_inputs,
)
from audits.checks.compile_time import compile_time_result
from audits.checks.exceptions import check_exceptions
from audits.checks.fullgraph import first_call, fullgraph_result
from audits.checks.parity import check_parity, describe_mismatch
from audits.checks.recompiles import replay
from audits.graph_breaks import break_from_exception, first_line
from audits.results import (
    CheckName,
    CheckStatus,
    ErrorInfo,
    FullgraphResult,
    Mode,
    TargetResult,
    TargetStatus,
)
from audits.targets import Target
from audits.torch_compat import dynamo_config_name, recompile_limit_errors


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
    check: CheckName | None = None
    results: dict[CheckName, Any] = field(default_factory=dict)

    def enter(self, name: CheckName) -> None:
        self.check = name
        if self.on_check is not None:
            self.on_check(name)

    def record(self, name: CheckName, result: Any) -> None:
        self.results[name] = result


def _status(target: Target, result: TargetResult) -> TargetStatus:
    if result.error is not None:
        return TargetStatus.ERROR
    if target.expected_flags:
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


def _run_checks(target: Target, settings: CheckSettings, progress: _Progress) -> None:
    def make_inputs() -> tuple[Any, ...]:
        return target_inputs(target, settings)

    progress.enter(CheckName.FULLGRAPH)
    module = prepare_module(target, settings)
    clone_module(module)(*make_inputs())  # the example must run in eager, or the target is wrong
    backward = target.modes[0] is Mode.TRAIN
    compiled = target.compile(module, backend=settings.backend, fullgraph=True)
    mark = len(compile_log().ids)
    first = first_call(compiled, make_inputs(), backward=backward)
    fullgraph = fullgraph_result(first)
    progress.record(CheckName.FULLGRAPH, fullgraph)
    fullgraph_ok = first.error is None
    if not fullgraph_ok:
        torch._dynamo.reset()
        module = prepare_module(target, settings)
        compiled = target.compile(module, backend=settings.backend, fullgraph=False)
        mark = len(compile_log().ids)
        first = first_call(compiled, make_inputs(), backward=backward)
        if first.error is not None:
            raise first.error
    first_call_ids = compile_log().since(mark)

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
    progress.record(CheckName.FULLGRAPH, _scenario_break(fullgraph, replayed.errors))
    progress.record(CheckName.RECOMPILES, replayed.result)
    progress.record(CheckName.COMPILE_TIME, compile_time_result(first, replayed.steady_s))

    progress.enter(CheckName.PARITY)
    progress.record(
        CheckName.PARITY, check_parity(module, compiled, make_inputs, target.modes, settings.dtype)
    )

    progress.enter(CheckName.EXCEPTIONS)
    progress.record(
        CheckName.EXCEPTIONS,
        check_exceptions(module, compiled, target.bad_inputs, settings, fullgraph=fullgraph_ok),
    )

    progress.enter(CheckName.BREAKS)
    torch._dynamo.reset()
    progress.record(
        CheckName.BREAKS, check_breaks(target, prepare_module(target, settings), make_inputs)
    )
    progress.check = None


def audit_target(
    target: Target,
    settings: CheckSettings,
    on_check: Callable[[CheckName], None] | None = None,
) -> TargetResult:
    """All checks on `target`; an exception becomes status error with its traceback.

    `on_check` is told the name of each check as it starts (for progress display).
    """
    start = time.perf_counter()
    progress = _Progress(on_check=on_check)
    error: ErrorInfo | None = None
    try:
        with dynamo_scope(target.dynamo_config):
            _run_checks(target, settings, progress)
    except Exception as exc:  # recorded in the result, never swallowed
        error = ErrorInfo(
            type=type(exc).__name__,
            message=str(exc),
            traceback=traceback.format_exc(),
            check=progress.check,
        )
    found = progress.results
    measured: tuple[dict[str, Any], ...] = ()
    if error is None and settings.bench and target.benchmark:
        measured = benchmark_target(target, settings)  # failures land in each result's error
    result = TargetResult(
        name=target.name,
        group=target.group,
        description=target.description,
        status=TargetStatus.PASSED,
        expected_flags=target.expected_flags,
        informational=target.informational,
        error=error,
        benchmarks=measured,
        duration_s=time.perf_counter() - start,
        **{name.value: found.get(name) for name in CheckName},
    )
    return replace(result, status=_status(target, result))
