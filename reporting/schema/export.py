"""Typed results of the export check: torch.export of a target, strict and not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reporting.schema.basics import CheckStatus, SourceLocation
from reporting.schema.vocabulary import Task


# ----------------------------------------------------------------- results
class DraftIssueKind(str, Enum):
    DATA_DEPENDENT = "data-dependent guard"
    GUARD_ADDED = "guard added"  # a guard that constrains the requested dynamism
    MISSING_FAKE_KERNEL = "missing fake kernel"
    MISMATCHED_FAKE_KERNEL = "mismatched fake kernel"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportParity:
    """The exported program's outputs against eager on the example inputs."""

    max_abs: float
    atol: float
    rtol: float
    passed: bool
    detail: str = ""  # why the outputs could not be compared, when they could not


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportAttempt:
    strict: bool
    exported: bool
    seconds: float
    error_type: str | None = None
    error_message: str = ""  # first line
    location: SourceLocation | None = None  # innermost user frame of the error
    parity: ExportParity | None = None  # set when exported


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftIssue:
    """One thing draft_export had to work around."""

    kind: DraftIssueKind
    detail: str  # the expression guarded on, or the operator
    location: SourceLocation | None = None
    occurrences: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CapturedFlag:
    """A Python attribute a forward branches on, with the value the export baked in."""

    module: str  # the submodule's path in the target, "" for the target itself
    attribute: str
    value: str  # repr at export time
    location: SourceLocation  # the branch


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportResult:
    status: CheckStatus
    mode: Task  # the mode the target was exported in
    attempts: tuple[ExportAttempt, ...] = ()  # non-strict, then strict
    draft_issues: tuple[DraftIssue, ...] = ()  # from draft_export, when an export failed
    # Why draft_export did not explain a failure: not in this torch, or it raised too.
    draft_note: str | None = None
    captured_flags: tuple[CapturedFlag, ...] = ()
