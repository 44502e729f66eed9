"""Interleaved measurement: every candidate runs once per round, in one process.

A shared machine drifts (other jobs, frequency scaling, thermal state). Timing eager for a
minute and then compiled for a minute would fold that drift into the speedup. Running one
block of each candidate per round, and rotating who goes first, puts both under the same
conditions; the per-round pairs then feed the paired bootstrap in :mod:`benchmarks.stats`.

Phases are kept apart, as nanoGPT's bench does: calibration (how many calls make a block
long enough to time), warm-up (until block times stop falling), then the timed rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.timers import Timer

Step = Callable[[], Any]


def round_orders(names: Sequence[str], rounds: int) -> list[tuple[str, ...]]:
    """The order of candidates in each round: a rotation by the round index.

    Over ``len(names)`` consecutive rounds every candidate runs in every position once, so
    no candidate always benefits from (or pays for) running right after another.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not names:
        raise ValueError("round_orders needs at least one candidate")
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be unique, got {list(names)}")
    n = len(names)
    return [tuple(names[(start + offset) % n] for offset in range(n)) for start in range(rounds)]


def calibrate_iters(fn: Step, timer: Timer, *, min_block_s: float, max_iters: int = 10_000) -> int:
    """Calls per block so that one block lasts at least ``min_block_s`` (one call at least).

    Short blocks are dominated by timer resolution and per-block overhead; long ones waste
    the time budget. Doubling from one call keeps the probe cheap.
    """
    if min_block_s < 0:
        raise ValueError(f"min_block_s must be >= 0, got {min_block_s}")
    iters = 1
    while iters < max_iters:
        if timer.time_block(fn, iters) >= min_block_s:
            return iters
        iters *= 2
    return max_iters


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupOutcome:
    """How warm-up ended: blocks run, and whether the last ones agreed within tolerance."""

    blocks: int
    steady: bool
    last_block_s: float


def warm_up(
    fn: Step,
    timer: Timer,
    *,
    iters: int,
    min_blocks: int = 2,
    max_blocks: int = 10,
    window: int = 3,
    tolerance: float = 0.05,
) -> WarmupOutcome:
    """Run blocks until the last ``window`` block times lie within ``tolerance`` of their minimum.

    Warm-up absorbs allocator growth, autotuning, lazy initialisation and the first
    compiled call's leftovers. It stops after ``max_blocks`` even if not steady; the
    outcome says so and the result records it rather than hiding it.
    """
    if not 1 <= min_blocks <= max_blocks:
        raise ValueError(f"need 1 <= min_blocks <= max_blocks, got {min_blocks}, {max_blocks}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    times: list[float] = []
    for _ in range(max_blocks):
        times.append(timer.time_block(fn, iters))
        if len(times) >= max(min_blocks, window):
            recent = times[-window:]
            fastest = min(recent)
            if fastest > 0 and max(recent) <= fastest * (1.0 + tolerance):
                return WarmupOutcome(blocks=len(times), steady=True, last_block_s=times[-1])
    return WarmupOutcome(blocks=len(times), steady=False, last_block_s=times[-1])


def run_interleaved(
    candidates: Mapping[str, Step],
    timer: Timer,
    *,
    rounds: int,
    iters: Mapping[str, int],
    before_round: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Per-call seconds of each candidate, one value per round, rounds interleaved.

    Returns ``{name: [round_0, round_1, ...]}``; each value is one block's time divided by
    that candidate's ``iters``, so candidates with different block sizes compare directly.
    """
    names = list(candidates)
    missing = [name for name in names if name not in iters]
    if missing:
        raise ValueError(f"no iteration count for candidates {missing}")
    per_call: dict[str, list[float]] = {name: [] for name in names}
    for index, order in enumerate(round_orders(names, rounds)):
        if before_round is not None:
            before_round(index)
        for name in order:
            n = iters[name]
            per_call[name].append(timer.time_block(candidates[name], n) / n)
    return per_call
