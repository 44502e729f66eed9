"""The audit inside a user's own tests: `assert_compiles(module, inputs)`.

`assert_compiles` wraps the module and its inputs in a `Target` and runs the
audit's own checks on it (fullgraph, breaks, recompiles, parity), in this
process, exactly as `python -m audits.run --target` would. A failure raises
`CompileAuditError`, an AssertionError whose message is the audit console's
finding (graph break with GB code, file:line and hint; recompile with its
failed guard; parity error with tensor, errors and tolerance) and which keeps
the typed `TargetResult` for a test that wants to look further.

The checks reset dynamo before and after (see `audits.audit.dynamo_scope`), so
modules compiled earlier in the same test compile again on their next call.
The module itself is never modified: the checks work on deep copies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from audits.audit import audit_target_part
from audits.checks.common import CheckSettings, compile_log, guard_failure_marks, guards_since
from audits.compile_watch import check_max_compiles, paused_watch
from audits.targets import ScenarioStep, Target, target_from_pair
from reporting.console import first_problem
from reporting.schema.audit import CheckName, CheckStatus, TargetResult

Backend = str | Callable[..., Any]

# The checks assert_compiles judges whatever its flags say; the rest are judged on request.
_ALWAYS_JUDGED = (CheckName.RECOMPILES,)
_BREAK_CHECKS = (CheckName.FULLGRAPH, CheckName.BREAKS)
# How set_stance("fail_on_recompile") words its RuntimeError (2.6+; 2.5 has no stances).
_STANCE_REFUSED = "Detected recompile when torch.compile stance is 'fail_on_recompile'"


class CompileAuditError(AssertionError):
    """A compile audit that found a problem; `result` holds every check's typed result.

    `result` is None for `assert_no_compiles`, which measures no checks.
    """

    def __init__(self, message: str, result: TargetResult | None) -> None:
        super().__init__(message)
        self.result = result


def check_backend(backend: object) -> Backend:
    """`backend` itself when torch.compile accepts it, else a ValueError listing the names."""
    if callable(backend):
        return backend  # a backend function, e.g. one that records or perturbs graphs
    if not isinstance(backend, str):
        raise TypeError(
            f"backend must be a backend name or a callable, got {type(backend).__name__}"
        )
    names = sorted(torch._dynamo.list_backends(exclude_tags=()))  # eager, aot_eager too
    if backend not in names:
        raise ValueError(f"unknown torch.compile backend {backend!r}; this torch has {names}")
    return backend


def audit_target_for(
    module: nn.Module,
    inputs: Any,
    *,
    max_compiles: int = 1,
    scenario: Iterable[ScenarioStep] | None = None,
) -> Target:
    """The Target `assert_compiles` audits: the module and inputs as given, copied per check."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    steps = tuple(scenario) if scenario is not None else ()
    for step in steps:
        if not isinstance(step, ScenarioStep):
            raise TypeError(
                f"scenario must hold audits.targets.ScenarioStep items, got {type(step).__name__}"
            )
    target = target_from_pair(type(module).__name__, (module, inputs))
    if not steps:
        # The audit's own replay allows no compile after the first call whatever the
        # budget; here the repeated calls share max_compiles like any scenario's.
        steps = (ScenarioStep(name="repeat", calls=target.steady_calls - 1),)
    return replace(target, recompile_budget=check_max_compiles(max_compiles), scenario=steps)


@contextlib.contextmanager
def _plain_dynamo() -> Iterator[None]:
    """Dynamo's default behaviour while the audit runs, whatever switches the test set.

    The audit measures breaks and recompiles by letting them happen; an audited test
    (the `compile_audit` marker) turns them into errors, which the checks must not see.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(paused_watch())
        if hasattr(torch.compiler, "set_stance"):
            stack.enter_context(torch.compiler.set_stance("default"))
        yield


def judged_checks(*, fullgraph: bool, parity: bool) -> tuple[CheckName, ...]:
    """The checks whose failure fails the assertion."""
    breaks = _BREAK_CHECKS if fullgraph else ()
    return (*_ALWAYS_JUDGED, *breaks, *((CheckName.PARITY,) if parity else ()))


def failure_message(title: str, result: TargetResult, judged: tuple[CheckName, ...]) -> str | None:
    """The console's finding for the judged checks of `result`, or None when they passed."""
    failing = [c for c in result.flagged if c in judged]
    if result.error is None and not failing:
        return None
    # Only the judged checks are shown: a graph break is no finding with fullgraph=False.
    kept: dict[str, Any] = {c.value: result.check(c) if c in judged else None for c in CheckName}
    shown = replace(result, **kept)
    lines = [f"{title}: " + (", ".join(c.value for c in failing) or "error") + " failed"]
    lines.extend("  " + line for line in first_problem(shown))
    tolerance = _parity_tolerance(shown)
    if tolerance:
        lines.append("    " + tolerance)
    if result.error is not None and result.error.traceback:
        lines.append(result.error.traceback.rstrip())
    return "\n".join(lines)


def _parity_tolerance(result: TargetResult) -> str | None:
    """The tolerance beside the console's parity line (the same, first failing, mode)."""
    p = result.parity
    if p is None or p.status is not CheckStatus.FAILED:
        return None
    mode = next(m for m in p.modes if not m.passed)
    worst = mode.output if not mode.output.passed else mode.worst_grad
    if worst is None:
        return None
    return f"tolerance ({mode.dtype.value}): atol {worst.atol:.0e}, rtol {worst.rtol:.0e}"


def assert_compiles(
    module: nn.Module,
    inputs: Any,
    *,
    fullgraph: bool = True,
    max_compiles: int = 1,
    parity: bool = True,
    scenario: Iterable[ScenarioStep] | None = None,
    backend: Backend = "aot_eager",
) -> TargetResult:
    """Audit `module` called with `inputs` (a tensor or a tuple of arguments).

    fullgraph: fail on any graph break (else breaks are measured, not judged).
    max_compiles: compilations allowed per frame over the whole replay, the first included.
    parity: fail when compiled outputs or gradients differ from eager beyond the dtype's
        tolerance, in train and in eval mode.
    scenario: steps that change the module's state between calls (an alpha ramp, a
        lifecycle stage); without one the module is called several times unchanged.
    backend: a torch.compile backend name or callable; the breaks check always uses a
        recording backend, which sees the same graphs.

    Returns the audit's TargetResult; raises CompileAuditError (an AssertionError).
    """
    __tracebackhide__ = True  # pytest shows the finding, not this function's code
    target = audit_target_for(module, inputs, max_compiles=max_compiles, scenario=scenario)
    settings = CheckSettings(backend=check_backend(backend))
    # No bad inputs here: the exceptions check would only report itself skipped.
    with _plain_dynamo():
        part = audit_target_part(target, settings, skip=frozenset({CheckName.EXCEPTIONS}))
    result = part.result
    judged = judged_checks(fullgraph=fullgraph, parity=parity)
    backend_name = backend if isinstance(backend, str) else getattr(backend, "__name__", "custom")
    title = (
        f"assert_compiles({target.name}, backend={backend_name!r}, fullgraph={fullgraph}, "
        f"max_compiles={max_compiles})"
    )
    message = failure_message(title, result, judged)
    if message is not None:
        raise CompileAuditError(message, result)
    return result


@contextlib.contextmanager
def assert_no_compiles() -> Iterator[None]:
    """Fail when anything compiles inside the block: a steady state after its warm-up.

    Uses torch's `set_stance("fail_on_recompile")`, which refuses any compilation at the
    call that would compile, where torch has stances; elsewhere the compilations are
    counted and the block fails at its end.
    """
    log = compile_log()
    mark = len(log.ids)
    guard_marks = guard_failure_marks()
    stance = (
        torch.compiler.set_stance("fail_on_recompile")
        if hasattr(torch.compiler, "set_stance")
        else contextlib.nullcontext()
    )
    try:
        with stance:
            yield
    except RuntimeError as exc:
        if not str(exc).startswith(_STANCE_REFUSED):
            raise
        raise CompileAuditError(
            "assert_no_compiles: a call compiled (torch refused it: fail_on_recompile)\n  "
            + "\n  ".join(str(exc).strip().splitlines()),
            None,
        ) from exc
    compiled = log.since(mark)
    if compiled:
        lines = [f"assert_no_compiles: {len(compiled)} compilation(s) in the block: {compiled}"]
        lines.extend(f"  guard failed: {g}" for g in guards_since(guard_marks))
        raise CompileAuditError("\n".join(lines), None)
