"""Typed results of the cudagraphs check: what reduce-overhead did with CUDA graphs."""

from __future__ import annotations

from dataclasses import dataclass

from reporting.schema.basics import CheckStatus
from reporting.schema.vocabulary import Task


@dataclass(frozen=True, slots=True, kw_only=True)
class CudagraphStep:
    """CUDA graph activity during one scenario step (or the first calls)."""

    step: str
    calls: int
    recordings: int  # CUDA graphs recorded (a re-recording counts too)
    rerecordings: int = 0  # recordings of a function that already had a graph
    skips: int = 0  # torch's cudagraph_skips counter: graphs left to run without CUDA graphs
    # torch's words: "skipping cudagraphs due to mutated inputs (1 instances). Found from: ..."
    skip_reasons: tuple[str, ...] = ()
    rerecord_reasons: tuple[str, ...] = ()  # why a recorded graph could not be replayed
    max_recordings: int | None = None  # 0 for a step that must compile nothing (an alpha step)
    error: str | None = None  # what a call raised


@dataclass(frozen=True, slots=True, kw_only=True)
class CudagraphsResult:
    status: CheckStatus  # failed: a skip, no graph at all, or a recording where none may be
    skipped_reason: str | None = None  # "not applicable on cpu: ...", another backend
    mode: Task | None = None
    recorded: bool = False  # at least one CUDA graph was recorded
    total_recordings: int = 0
    total_skips: int = 0
    steps: tuple[CudagraphStep, ...] = ()
