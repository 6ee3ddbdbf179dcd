"""Percentile bootstrap over users: the uncertainty of a mean of per-user metrics."""

from __future__ import annotations

import numpy as np


def bootstrap_mean_ci(
    values: np.ndarray, n_resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """``(low, high)`` percentile interval of the mean, resampling users with replacement.

    Users are the unit of resampling because the test set is a sample of users; NaNs are
    dropped first. Fewer than two values give ``(nan, nan)``: there is no spread to measure.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2 or n_resamples < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    # chunks keep memory flat for large user counts
    chunk = max(1, 2_000_000 // len(x))
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, len(x), size=(stop - start, len(x)))
        means[start:stop] = x[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
