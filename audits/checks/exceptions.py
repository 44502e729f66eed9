"""Check 5: does each bad input raise, compiled, what it raises in eager?

Under fullgraph=True a `raise` (or a failing assert) inside the compiled
region is seen by dynamo while tracing; depending on the torch version the
user then gets the original exception or a torch-internal one. The check does
not assume either: it calls both and records what each raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from torch import nn

from audits.checks.common import CheckSettings, prepare_inputs
from audits.checks.device_fault import DeviceFaultError, fault_from, is_device_fault, synchronize
from audits.graph_breaks import break_from_exception
from audits.targets import BadInput
from reporting.schema.audit import CheckName, CheckStatus, ExceptionCase, ExceptionsResult


def _raised(fn: Callable[..., Any], bad: BadInput, settings: CheckSettings) -> BaseException | None:
    inputs = prepare_inputs(bad.make_inputs, settings)
    try:
        fn(*inputs)
        # A device-side assert is reported at a later CUDA call: make it this one.
        synchronize(settings.device)
    except Exception as exc:  # the exception is the measurement
        return exc
    return None


def _name(exc: BaseException | None) -> str | None:
    return type(exc).__name__ if exc is not None else None


def _text(exc: BaseException | None) -> str:
    return str(exc) if exc is not None else ""


def check_case(
    module: nn.Module, compiled: Callable[..., Any], bad: BadInput, settings: CheckSettings
) -> tuple[ExceptionCase, BaseException | None]:
    """The case, and the device fault one of the two calls raised (None when neither did)."""
    eager_exc = _raised(module, bad, settings)
    if is_device_fault(eager_exc):
        compiled_exc: BaseException | None = None  # the context is gone: compiled cannot run
    else:
        compiled_exc = _raised(compiled, bad, settings)
    eager_as_declared = isinstance(eager_exc, bad.raises) and (
        bad.match is None or re.search(bad.match, _text(eager_exc)) is not None
    )
    type_matches = eager_as_declared and type(compiled_exc) is type(eager_exc)
    case = ExceptionCase(
        name=bad.name,
        expected_type=bad.raises.__name__,
        eager_type=_name(eager_exc),
        eager_message=_text(eager_exc),
        compiled_type=_name(compiled_exc),
        compiled_message=_text(compiled_exc),
        type_matches=type_matches,
        message_matches=type_matches and _text(compiled_exc) == _text(eager_exc),
        graph_break=break_from_exception(compiled_exc) if compiled_exc is not None else None,
    )
    fault = next((e for e in (eager_exc, compiled_exc) if is_device_fault(e)), None)
    return case, fault


def check_exceptions(
    module: nn.Module,
    compiled: Callable[..., Any],
    bad_inputs: tuple[BadInput, ...],
    settings: CheckSettings,
    *,
    fullgraph: bool,
) -> ExceptionsResult:
    if not bad_inputs:
        return ExceptionsResult(status=CheckStatus.SKIPPED, fullgraph=fullgraph)
    cases: list[ExceptionCase] = []
    for i, bad in enumerate(bad_inputs):
        case, fault = check_case(module, compiled, bad, settings)
        cases.append(case)
        if fault is not None:
            # Nothing more can run in this process: keep the cases measured so far.
            raise DeviceFaultError(
                replace(
                    fault_from(fault, CheckName.EXCEPTIONS, bad.name),
                    not_run=tuple(b.name for b in bad_inputs[i + 1 :]),
                ),
                partial=_result(cases, fullgraph),
            )
    return _result(cases, fullgraph)


def _result(cases: list[ExceptionCase], fullgraph: bool) -> ExceptionsResult:
    ok = all(c.type_matches and c.message_matches for c in cases)
    return ExceptionsResult(
        status=CheckStatus.PASSED if ok else CheckStatus.FAILED,
        fullgraph=fullgraph,
        cases=tuple(cases),
    )
