"""Priors from the end of the training window: recent popularity, trend, repeat, and the
recency of each user's own history.

Hypotheses, not defaults: a seasonal shop may reward items whose buyers grew over the last
weeks (trend), a fast-moving one recently popular items (recency), a grocery items that
their buyers come back for (repeat). Each exponent is 0 (no effect) unless validation on
several windows chooses otherwise. Only training data is used: counts in the last
``recent_days`` before ``as_of`` against the ``long_days`` before that.

``history_half_life_days`` is the user-side hypothesis: a user's recent purchases say more
about the next ones than old ones, so each bought item weighs ``0.5 ** (age / half-life)``
in the history the model scores (null/0: every bought item weighs 1). It changes scoring
only, so a fitted model is reused across its values like the item priors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tailor.recommenders.matrix import line_codes, pairs_of, per_index


def buyers_between(
    interactions: pd.DataFrame,
    item_index: dict[str, int],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> np.ndarray:
    """Distinct buyers per item with start < ts <= end."""
    codes = line_codes(interactions)
    ts = interactions["ts"]
    inside = ((ts > start) & (ts <= end)).to_numpy() & codes.valid
    pairs = pd.unique(codes.pair_key(inside))
    buyers = np.bincount(pairs % codes.width, minlength=len(codes.item_ids))
    return per_index(codes.item_ids, buyers, item_index, 0.0)


def trend_prior(
    interactions: pd.DataFrame,
    item_index: dict[str, int],
    as_of: pd.Timestamp,
    recent_days: int = 30,
    long_days: int = 90,
    popularity_exponent: float = 0.0,
    trend_exponent: float = 0.0,
    smoothing: float = 1.0,
    repeat_exponent: float = 0.0,
) -> np.ndarray:
    """Multiplicative item prior ``(recent+a)^p * ((recent+a)/(before_rate+a))^t * r^q``.

    ``before_rate`` is the buyer count of the earlier ``long_days`` scaled to
    ``recent_days``; ``r`` is the share of an item's buyers who bought it in two or more
    orders (smoothed). Exponents 0 give a prior of ones (no effect).
    """
    if is_neutral(
        {
            "popularity_exponent": popularity_exponent,
            "trend_exponent": trend_exponent,
            "repeat_exponent": repeat_exponent,
        }
    ):
        return np.ones(len(item_index))
    recent_start = as_of - pd.Timedelta(days=recent_days)
    recent = buyers_between(interactions, item_index, recent_start, as_of)
    before = buyers_between(
        interactions, item_index, recent_start - pd.Timedelta(days=long_days), recent_start
    )
    before = before * recent_days / long_days
    a = float(smoothing)
    prior = (recent + a) ** popularity_exponent * ((recent + a) / (before + a)) ** trend_exponent
    if repeat_exponent:
        prior = prior * repeat_share(interactions, item_index, a) ** repeat_exponent
    return prior / prior.max()


def repeat_share(
    interactions: pd.DataFrame, item_index: dict[str, int], smoothing: float
) -> np.ndarray:
    """(repeat buyers + a/2) / (buyers + a) per item: how often buyers come back for it."""
    pairs = pairs_of(interactions)
    items, n_items = pairs.codes.item, len(pairs.codes.item_ids)
    buyers = np.bincount(items, minlength=n_items)
    again = np.bincount(items, weights=pairs.n >= 2, minlength=n_items)
    share = (again + smoothing / 2) / (buyers + smoothing)
    return per_index(pairs.codes.item_ids, share, item_index, 0.5)


EXPONENTS = ("popularity_exponent", "trend_exponent", "repeat_exponent")
HISTORY = "history_half_life_days"


def is_neutral(prior: dict[str, Any] | None) -> bool:
    """True when the prior has no effect (every exponent 0 or absent, no history decay)."""
    return not prior or (
        all(float(prior.get(e, 0.0)) == 0.0 for e in EXPONENTS) and not prior.get(HISTORY)
    )


def item_prior_params(prior: dict[str, Any] | None) -> dict[str, Any]:
    """The item prior's parameters (``trend_prior`` keywords): all but the history decay."""
    return {k: v for k, v in (prior or {}).items() if k != HISTORY}
