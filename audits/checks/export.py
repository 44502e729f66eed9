"""Export: does `torch.export.export` take the target, and does its program match eager?

Each target is exported non-strict (Python runs the forward, torch traces the
tensor ops) and strict (dynamo traces it), in eval mode when the target has
one, since an exported program is what ships. An export that fails is
explained by `torch.export.draft_export`, which exports anyway and lists what
stood in the way: data-dependent guards, guards that violate the requested
dynamism, missing or wrong fake kernels, each with the user's line. An export
that succeeds is run on the example inputs and compared with eager at the
parity check's tolerances.

An exported program keeps one branch of every Python `if`: the forwards of the
user's modules are read for branches on plain Python attributes (`if
self.flag:`), and the values they had at export are reported as the
specialisation the program captured.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import linecache
import logging
import os
import textwrap
import time
import traceback
from collections.abc import Iterator
from enum import Enum
from typing import Any

import torch
from torch import nn

from audits.checks.common import (
    CheckSettings,
    output_tensors,
    prepare_module,
    set_mode,
    target_inputs,
)
from audits.checks.parity import TOLERANCES
from audits.checks.torch_logs import loggers_at
from audits.graph_breaks import break_from_exception, first_line, is_user_file, location_of
from audits.targets import Inputs, Target
from audits.torch_compat import draft_export, draft_user_stack
from reporting.schema.audit import CheckStatus, SourceLocation
from reporting.schema.basics import not_available
from reporting.schema.export import (
    CapturedFlag,
    DraftIssue,
    DraftIssueKind,
    ExportAttempt,
    ExportParity,
    ExportResult,
)
from reporting.schema.vocabulary import Task


# ----------------------------------------------------------------- exporting
def _compare(program: Any, module: nn.Module, inputs: Inputs, dtype: torch.dtype) -> ExportParity:
    atol, rtol = TOLERANCES[dtype]
    try:
        with torch.no_grad():
            got = output_tensors(program.module()(*inputs))
            want = output_tensors(module(*inputs))
    except Exception as exc:  # the program exported but does not run: a parity failure
        detail = f"exported program raised {type(exc).__name__}: {first_line(exc)}"
        return ExportParity(max_abs=float("inf"), atol=atol, rtol=rtol, passed=False, detail=detail)
    if len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want, strict=False)):
        shapes = [tuple(g.shape) for g in got], [tuple(w.shape) for w in want]
        detail = f"exported program gave shapes {shapes[0]}, eager {shapes[1]}"
        return ExportParity(max_abs=float("inf"), atol=atol, rtol=rtol, passed=False, detail=detail)
    pairs = list(zip(got, want, strict=True))
    max_abs = max(
        (float((g.double() - w.double()).abs().max()) for g, w in pairs if g.numel()), default=0.0
    )
    passed = all(
        torch.allclose(g.double(), w.double(), atol=atol, rtol=rtol, equal_nan=True)
        for g, w in pairs
    )
    return ExportParity(max_abs=max_abs, atol=atol, rtol=rtol, passed=passed)


def _attempt(
    module: nn.Module, inputs: Inputs, *, strict: bool, dtype: torch.dtype
) -> ExportAttempt:
    start = time.perf_counter()
    try:
        with _quiet():
            program = torch.export.export(module, inputs, strict=strict)
    except Exception as exc:  # the failure is the finding
        # strict export fails as dynamo does: its user frame is in the error, not the traceback
        graph_break = break_from_exception(exc)
        location = graph_break.location if graph_break is not None else None
        return ExportAttempt(
            strict=strict,
            exported=False,
            seconds=time.perf_counter() - start,
            error_type=type(exc).__name__,
            error_message=first_line(exc),
            location=location or _user_raise_site(exc),
        )
    seconds = time.perf_counter() - start
    parity = _compare(program, module, inputs, dtype)
    return ExportAttempt(strict=strict, exported=True, seconds=seconds, parity=parity)


def _user_raise_site(exc: BaseException) -> SourceLocation | None:
    """The innermost user frame of the traceback, leaving out the audit's own frames."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if is_user_file(f.filename) and os.path.abspath(f.filename) != os.path.abspath(__file__)
    ]
    return location_of(frames[-1]) if frames else None


_DRAFT_KINDS = {
    "MISSING_FAKE_KERNEL": DraftIssueKind.MISSING_FAKE_KERNEL,
    "DATA_DEPENDENT_ERROR": DraftIssueKind.DATA_DEPENDENT,
    "GUARD_ADDED": DraftIssueKind.GUARD_ADDED,
    "MISMATCHED_FAKE_KERNEL": DraftIssueKind.MISMATCHED_FAKE_KERNEL,
}


def _draft_location(data: dict[str, Any], files: dict[Any, str]) -> SourceLocation | None:
    """The innermost user frame of a draft_export failure (files are interned there)."""
    for frame in reversed(draft_user_stack(data)):
        filename = files.get(frame.get("filename"), frame.get("filename"))
        if not isinstance(filename, str) or not is_user_file(filename):
            continue
        summary = traceback.FrameSummary(
            filename, int(frame.get("line") or 0), str(frame.get("name", "")), line=frame.get("loc")
        )
        return location_of(summary)
    return None


def _interned_files(report: Any) -> dict[Any, str]:
    """Interned id -> filename. The report only lists files first interned during the draft
    export; ones an earlier export in this process interned are in torch's global table."""
    files: dict[Any, str] = {}
    with contextlib.suppress(ImportError):
        from torch._logging.structured import INTERN_TABLE

        files.update({i: name for name, i in INTERN_TABLE.items()})
    files.update(getattr(report, "str_to_filename", {}) or {})
    return files


_TORCH_LOGGERS = (
    "torch.export",
    "torch._export",
    "torch.fx.experimental.symbolic_shapes",
    "torch._dynamo",
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch's loggers below ERROR, and the partial graph export prints to stderr on
    failure, for a call whose findings the result records."""
    with loggers_at(logging.ERROR, *_TORCH_LOGGERS), contextlib.redirect_stderr(io.StringIO()):
        yield


def draft_issues(module: nn.Module, inputs: Inputs) -> tuple[tuple[DraftIssue, ...], str | None]:
    """What draft_export worked around, or why it could not say (not in this torch, raised)."""
    draft = draft_export()
    if draft is None:
        return (), not_available("torch.export.draft_export", torch.__version__)
    try:
        with _quiet():
            _, report = draft(module, inputs)
    except Exception as exc:  # draft_export is best effort; its own failure is reported
        return (), f"draft_export raised {type(exc).__name__}: {first_line(exc)}"
    if report is None:
        return (), not_available("draft_export's report", torch.__version__)
    files = _interned_files(report)
    issues = []
    for failure in report.failures:
        kind = _DRAFT_KINDS.get(getattr(failure.failure_type, "name", str(failure.failure_type)))
        if kind is None:
            continue
        data = failure.data
        detail = str(data.get("expr") or data.get("op") or data.get("reason") or "")
        issues.append(
            DraftIssue(
                kind=kind,
                detail=detail,
                location=_draft_location(data, files),
                occurrences=int(data.get("occurrences", 1) or 1),
            )
        )
    return tuple(issues), None


# ----------------------------------------------------------------- captured flags
_PLAIN = (bool, int, float, str, type(None), Enum)


def _branch_attributes(cls: type) -> list[tuple[str, int]]:
    """(attribute, line) of each `self.<attr>` read in a branch test of `cls.forward`."""
    try:
        lines, first = inspect.getsourcelines(cls.__dict__["forward"])
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (KeyError, OSError, TypeError, SyntaxError):
        return []
    function = tree.body[0]
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or not function.args.args:
        return []
    this = function.args.args[0].arg  # "self", whatever it is called
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            for sub in ast.walk(node.test):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == this
                ):
                    found.append((sub.attr, first + node.lineno - 1))
    return found


def captured_flags(module: nn.Module) -> tuple[CapturedFlag, ...]:
    """Plain Python attributes the user's forwards branch on, with their values now."""
    found: dict[tuple[str, str, int], CapturedFlag] = {}
    for path, sub in module.named_modules():
        cls = type(sub)
        for klass in cls.__mro__:
            if klass in (nn.Module, object) or "forward" not in klass.__dict__:
                continue
            filename = inspect.getsourcefile(klass) or ""
            if not filename or not is_user_file(filename):
                break
            for attribute, line in _branch_attributes(klass):
                value = getattr(sub, attribute, None)
                if not isinstance(value, _PLAIN) or callable(value):
                    continue
                key = (cls.__qualname__, attribute, line)
                if key in found:
                    continue
                frame = traceback.FrameSummary(
                    filename, line, "forward", line=linecache.getline(filename, line)
                )
                found[key] = CapturedFlag(
                    module=path, attribute=attribute, value=repr(value), location=location_of(frame)
                )
            break  # the forward that runs is the first one in the MRO
    return tuple(found.values())


def check_export(target: Target, settings: CheckSettings) -> ExportResult:
    """Export the target non-strict and strict; explain failures; compare successes with eager."""
    mode = Task.INFER if Task.INFER in target.modes else target.modes[0]
    module = prepare_module(target, settings)
    set_mode(module, mode)
    inputs = tuple(
        x.detach() if isinstance(x, torch.Tensor) else x for x in target_inputs(target, settings)
    )
    flags = captured_flags(module)
    attempts = tuple(
        _attempt(module, inputs, strict=strict, dtype=settings.dtype) for strict in (False, True)
    )
    exported = all(a.exported for a in attempts)
    issues, note = ((), None) if exported else draft_issues(module, inputs)
    ok = all(a.exported and a.parity is not None and a.parity.passed for a in attempts)
    return ExportResult(
        status=CheckStatus.PASSED if ok else CheckStatus.FAILED,
        mode=mode,
        attempts=attempts,
        draft_issues=issues,
        draft_note=note,
        captured_flags=flags,
    )
