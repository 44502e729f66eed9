"""The words every check result uses: a check's status and a place in the user's code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
