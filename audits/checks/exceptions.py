"""Check 5: does each bad input raise, compiled, what it raises in eager?

Under fullgraph=True a `raise` (or a failing assert) inside the compiled
region is seen by dynamo while tracing; depending on the torch version the
user then gets the original exception or a torch-internal one. The check does
not assume either: it calls both and records what each raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from torch import nn

from audits.checks.common import CheckSettings, prepare_inputs
from audits.graph_breaks import break_from_exception
from audits.results import CheckStatus, ExceptionCase, ExceptionsResult
from audits.targets import BadInput


def _raised(fn: Callable[..., Any], bad: BadInput, settings: CheckSettings) -> BaseException | None:
    inputs = prepare_inputs(bad.make_inputs, settings)
    try:
        fn(*inputs)
    except Exception as exc:  # the exception is the measurement
        return exc
    return None


def _name(exc: BaseException | None) -> str | None:
    return type(exc).__name__ if exc is not None else None


def _text(exc: BaseException | None) -> str:
    return str(exc) if exc is not None else ""


def check_case(
    module: nn.Module, compiled: Callable[..., Any], bad: BadInput, settings: CheckSettings
) -> ExceptionCase:
    eager_exc = _raised(module, bad, settings)
    compiled_exc = _raised(compiled, bad, settings)
    eager_as_declared = isinstance(eager_exc, bad.raises) and (
        bad.match is None or re.search(bad.match, _text(eager_exc)) is not None
    )
    type_matches = eager_as_declared and type(compiled_exc) is type(eager_exc)
    return ExceptionCase(
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
    cases = tuple(check_case(module, compiled, bad, settings) for bad in bad_inputs)
    ok = all(c.type_matches and c.message_matches for c in cases)
    return ExceptionsResult(
        status=CheckStatus.PASSED if ok else CheckStatus.FAILED, fullgraph=fullgraph, cases=cases
    )
