"""Thompson sampling over recommendation strategies, one Beta-Bernoulli arm per strategy.

Reward = a click on an impression. Each arm's posterior is Beta(a0 + clicks,
b0 + impressions - clicks); the arm with the largest draw serves the request. Counts live
in the profile store per segment, so every worker process learns from all feedback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def choose(
    arms: Sequence[str],
    counts: Mapping[str, Mapping[str, int]],
    rng: np.random.Generator,
    prior: tuple[float, float] = (1.0, 1.0),
) -> str:
    """Pick one of ``arms`` by Thompson sampling on click-through counts."""
    if len(arms) == 1:
        return arms[0]
    a0, b0 = prior
    draws = []
    for arm in arms:
        c = counts.get(arm, {})
        shown = max(int(c.get("impression", 0)), 0)
        clicks = min(max(int(c.get("click", 0)), 0), shown)
        draws.append(rng.beta(a0 + clicks, b0 + shown - clicks))
    return arms[int(np.argmax(draws))]


def posterior_mean(counts: Mapping[str, int], prior: tuple[float, float] = (1.0, 1.0)) -> float:
    shown = int(counts.get("impression", 0))
    clicks = min(int(counts.get("click", 0)), shown)
    return (prior[0] + clicks) / (prior[0] + prior[1] + shown)
