"""The words every check result uses: a check's status, a place in the user's code, a
graph break and a tensor compared with eager."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

_NOT_AVAILABLE = " is not available in torch "


def not_available(api: str, torch_version: str) -> str:
    """How a check says that the torch it ran under lacks an API it uses."""
    return f"{api}{_NOT_AVAILABLE}{torch_version}"


def missing_api(note: str | None) -> str | None:
    """The API a `not_available` note names; None for any other note."""
    api, found, _ = (note or "").partition(_NOT_AVAILABLE)
    return api if found else None


class CheckStatus(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # the check ran and found a problem
    SKIPPED = "skipped"  # not applicable (no bad inputs, nothing compiled, ...)
    ERROR = "error"  # the check itself raised; see TargetResult.error


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
class TensorDiff:
    name: str  # "output" or "grad:<parameter name>"
    max_abs: float
    max_rel: float
    atol: float
    rtol: float
    passed: bool
