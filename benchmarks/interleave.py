"""Interleaved measurement: every candidate runs once per round, in one process.

A shared machine drifts (other jobs, frequency scaling, thermal state): timing eager for a
minute, then compiled for a minute, would fold that drift into the speedup. One block of
each candidate per round, in an order drawn afresh (and seeded) each round, puts all of
them under the same conditions; a fixed or merely rotating order can line up with a
periodic disturbance, or let one candidate always inherit another's cache state. The
per-round pairs feed the paired bootstrap in :mod:`benchmarks.stats`.

Phases are kept apart, as in nanoGPT's bench: calibration (how many calls make a block long
enough to time), warm-up (until the median block time stops moving), the timed rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.timers import Timer

Step = Callable[[], Any]


def round_orders(
    names: Sequence[str], rounds: int, *, seed: int | None = None
) -> list[tuple[str, ...]]:
    """The order of candidates in each round.

    With ``seed``, each round is an independent random permutation drawn from a generator
    seeded with it, so a run's order is random but can be replayed. Without, a rotation by
    the round index: over ``len(names)`` rounds every candidate takes every position once.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not names:
        raise ValueError("round_orders needs at least one candidate")
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be unique, got {list(names)}")
    n = len(names)
    if seed is None:
        return [tuple(names[s % n :]) + tuple(names[: s % n]) for s in range(rounds)]
    rng = np.random.default_rng(seed)
    return [tuple(names[int(i)] for i in rng.permutation(n)) for _ in range(rounds)]


def calibrate_iters(fn: Step, timer: Timer, *, min_block_s: float, max_iters: int = 10_000) -> int:
    """Calls per block so that one block lasts at least ``min_block_s`` (one call at least).

    Short blocks are dominated by timer resolution and per-block overhead; long ones waste
    the time budget. Doubling from one call keeps the probe cheap.
    """
    if min_block_s < 0:
        raise ValueError(f"min_block_s must be >= 0, got {min_block_s}")
    iters = 1
    while iters < max_iters and timer.time_block(fn, iters) < min_block_s:
        iters *= 2
    return min(iters, max_iters)


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupOutcome:
    """How warm-up ended: blocks run, whether the median settled, and how far it last moved."""

    blocks: int
    steady: bool
    last_block_s: float
    # |median(last window) / median(window before) - 1| when warm-up ended; None when fewer
    # than two windows ran (then steady is False: nothing was compared).
    drift: float | None = None


def median_drift(times: Sequence[float], window: int) -> float | None:
    """Relative move of the median of the last ``window`` times from the window before."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if len(times) < 2 * window:
        return None
    previous = float(np.median(times[-2 * window : -window]))
    recent = float(np.median(times[-window:]))
    return abs(recent / previous - 1.0) if previous > 0 else None


def warm_up(
    fn: Step,
    timer: Timer,
    *,
    iters: int,
    min_blocks: int = 2,
    max_blocks: int = 20,
    window: int = 3,
    tolerance: float = 0.02,
) -> WarmupOutcome:
    """Run blocks until the median of the last ``window`` blocks moves by at most
    ``tolerance`` from the median of the ``window`` blocks before it.

    Warm-up absorbs allocator growth, autotuning, lazy initialisation, the first compiled
    call's leftovers and a clock that is still ramping. A median of a window, rather than
    the spread of single blocks, lets one preempted block pass without resetting the wait,
    while a steady trend (clocks settling) keeps it going. It stops after ``max_blocks``
    even if not settled; the outcome says so and the result records it.
    """
    if not 1 <= min_blocks <= max_blocks:
        raise ValueError(f"need 1 <= min_blocks <= max_blocks, got {min_blocks}, {max_blocks}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if tolerance <= 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    times: list[float] = []
    drift, steady = None, False
    while len(times) < max_blocks and not steady:
        times.append(timer.time_block(fn, iters))
        drift = median_drift(times, window)
        steady = len(times) >= min_blocks and drift is not None and drift <= tolerance
    return WarmupOutcome(blocks=len(times), steady=steady, last_block_s=times[-1], drift=drift)


def run_interleaved(
    candidates: Mapping[str, Step],
    timer: Timer,
    *,
    rounds: int,
    iters: Mapping[str, int],
    orders: Sequence[Sequence[str]] | None = None,
) -> dict[str, list[float]]:
    """Per-call seconds of each candidate, one value per round, rounds interleaved.

    Returns ``{name: [round_0, round_1, ...]}``; each value is one block's time divided by
    that candidate's ``iters``, so candidates with different block sizes compare directly.
    ``orders`` gives each round's order (see :func:`round_orders`); by default a rotation.
    """
    names = list(candidates)
    if missing := [name for name in names if name not in iters]:
        raise ValueError(f"no iteration count for candidates {missing}")
    plan = [tuple(o) for o in orders] if orders is not None else round_orders(names, rounds)
    if len(plan) != rounds or any(sorted(order) != sorted(names) for order in plan):
        raise ValueError(f"orders must give {rounds} rounds, each a permutation of {names}")
    per_call: dict[str, list[float]] = {name: [] for name in names}
    for order in plan:
        for name in order:
            per_call[name].append(timer.time_block(candidates[name], iters[name]) / iters[name])
    return per_call
