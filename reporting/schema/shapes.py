"""Typed results of the shapes check: what a sweep over input sizes compiled, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reporting.schema.basics import CheckStatus, SourceLocation


class DimKind(str, Enum):
    """What an input dimension that varies between calls stands for; it sets the sizes swept."""

    BATCH = "batch"
    SEQUENCE = "sequence"


class SpecialisationKind(str, Enum):
    SIZE_ONE = "0/1"  # size 1 compiled apart: dynamic sizes are assumed to be >= 2
    DIVISIBILITY = "divisibility"  # a guard on size // k or size % k
    CONSTANT = "constant"  # the code turned a dynamic size back into a constant


class AdviceKind(str, Enum):
    MARK_DYNAMIC = "mark_dynamic"
    DYNAMIC_TRUE = "dynamic=True"
    PAD_TO_BUCKETS = "pad to buckets"


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardFailure:
    """A guard of an earlier compilation that failed, causing a recompile."""

    compile_id: str  # the compilation whose guard failed, "frame/compile"
    guard: str  # torch's text, e.g. "2 <= x.size()[0]" or "tensor 'x' size mismatch ..."
    location: SourceLocation | None = None  # user code torch names for it, if any


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapeCall:
    """One call of the sweep."""

    call: int  # 1-based
    sizes: tuple[tuple[DimKind, int], ...]  # the size of each swept kind
    compiles: int
    dynamic: tuple[str, ...] = ()  # swept dims compiled as symbols at this call, "x dim 0"
    guard_failures: tuple[GuardFailure, ...] = ()
    error: str | None = None  # what the compiled call raised (eager did not)


@dataclass(frozen=True, slots=True, kw_only=True)
class Specialisation:
    kind: SpecialisationKind
    dim: str  # "x dim 0 (batch)"
    value: int  # the size it was specialised to
    call: int  # the call that compiled the specialised graph
    guard: str = ""  # the guard behind it, when a guard failure names it
    location: SourceLocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdviceTrial:
    """The sweep run again with one piece of advice applied."""

    advice: AdviceKind
    code: str  # what the user would write, e.g. "torch._dynamo.mark_dynamic(x, 0)"
    total_compiles: int
    max_frame_compiles: int
    removes_recompiles: bool  # no compiles left but the first and size 1's
    error: str | None = None  # e.g. torch's constraint violation for mark_dynamic
    location: SourceLocation | None = None  # user code that specialised a marked dim


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapesResult:
    status: CheckStatus
    skipped_reason: str | None = None
    dims: tuple[str, ...] = ()  # the swept dims, "x dim 0 (batch)"
    calls: tuple[ShapeCall, ...] = ()
    total_compiles: int = 0
    max_frame_compiles: int = 0  # compared with budget
    # first compile + one when dims turn dynamic + one for size 1 when swept
    budget: int = 0
    dynamic_from_call: int | None = None  # the call whose compile first had a symbolic dim
    specialisations: tuple[Specialisation, ...] = ()
    advice: AdviceTrial | None = None  # the narrowest trial that removed the recompiles
    trials: tuple[AdviceTrial, ...] = ()  # every trial, narrowest first
