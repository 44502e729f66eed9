"""Statistics of interleaved timing rounds: medians, IQR, ratios and a paired bootstrap CI.

Every function takes per-round samples. Rounds are *paired*: round ``i`` of the eager
samples ran right next to round ``i`` of the compiled samples, so machine drift hits both
alike. The bootstrap therefore resamples round indices, not single samples, which keeps
that pairing and lets drift cancel inside each resample.

Speedup is defined as a ratio of medians, ``median(baseline) / median(candidate)`` of
times, which is the throughput ratio candidate/baseline: above 1 the candidate is faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from reporting.schema.measures import DEFAULT_CONFIDENCE, Interval, Summary

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


def _as_array(samples: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-d sequence, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite, got {samples!r}")
    return array


def summarize(samples: Sequence[float]) -> Summary:
    """Median and quartiles (linear interpolation between order statistics)."""
    array = _as_array(samples, "samples")
    q1, median, q3 = np.percentile(array, [25.0, 50.0, 75.0])
    return Summary(n=int(array.size), median=float(median), q1=float(q1), q3=float(q3))


def per_round_ratios(baseline: Sequence[float], candidate: Sequence[float]) -> tuple[float, ...]:
    """baseline[i] / candidate[i] for each round: the per-round speedup of the candidate."""
    base = _as_array(baseline, "baseline")
    cand = _as_array(candidate, "candidate")
    if base.shape != cand.shape:
        raise ValueError(f"paired samples need equal lengths, got {base.size} and {cand.size}")
    if np.any(cand <= 0.0):
        raise ValueError("candidate times must be positive to form a ratio")
    return tuple(float(r) for r in base / cand)


def paired_bootstrap(
    samples: Mapping[str, Sequence[float]],
    statistic: Callable[[Mapping[str, np.ndarray]], float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap CI of ``statistic`` over rounds resampled jointly for every series.

    ``samples`` maps a name to its per-round values; all series must have one value per
    round. The same resampled round indices are applied to every series.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not samples:
        raise ValueError("paired_bootstrap needs at least one series")
    arrays = {name: _as_array(values, name) for name, values in samples.items()}
    lengths = {array.size for array in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"paired series need equal lengths, got {sorted(lengths)}")
    (n_rounds,) = lengths
    point = float(statistic(arrays))
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n_rounds, size=(resamples, n_rounds))
    estimates = np.empty(resamples, dtype=np.float64)
    for row, index in enumerate(indices):
        estimates[row] = statistic({name: array[index] for name, array in arrays.items()})
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(estimates, [tail, 100.0 - tail])
    # The point estimate can fall outside a percentile interval for skewed statistics;
    # widen the interval rather than report a CI that excludes its own estimate.
    return Interval(
        point=point, low=min(float(low), point), high=max(float(high), point), confidence=confidence
    )


def speedup_interval(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Ratio of medians baseline/candidate with its paired bootstrap CI."""
    per_round_ratios(baseline, candidate)  # validates pairing and positivity
    return paired_bootstrap(
        {"baseline": baseline, "candidate": candidate},
        lambda s: float(np.median(s["baseline"]) / np.median(s["candidate"])),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def geomean(values: Sequence[float]) -> float:
    """Geometric mean of positive values, the usual summary of speedups across workloads."""
    array = _as_array(values, "values")
    if np.any(array <= 0.0):
        raise ValueError(f"geomean needs positive values, got {values!r}")
    return float(math.exp(float(np.mean(np.log(array)))))
