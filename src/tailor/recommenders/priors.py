"""Item priors from the end of the training window: recent popularity and trend.

Purchases are seasonal (gift shop: the autumn ramps up to Christmas); an item whose buyers
grew over the last weeks is likelier to be bought next. Only training data is used: counts
in the last ``recent_days`` before ``as_of`` against the ``long_days`` before that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def buyers_between(
    interactions: pd.DataFrame,
    item_index: dict[str, int],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> np.ndarray:
    """Distinct buyers per item with start < ts <= end."""
    window = interactions[(interactions["ts"] > start) & (interactions["ts"] <= end)]
    counts = window.groupby("item_id")["user_id"].nunique()
    out = np.zeros(len(item_index), dtype=np.float64)
    rows = counts.index.map(item_index)
    keep = ~pd.isna(rows)
    out[np.asarray(rows[keep], dtype=np.int64)] = counts.to_numpy()[keep]
    return out


def trend_prior(
    interactions: pd.DataFrame,
    item_index: dict[str, int],
    as_of: pd.Timestamp,
    recent_days: int = 30,
    long_days: int = 90,
    popularity_exponent: float = 0.0,
    trend_exponent: float = 0.0,
    smoothing: float = 1.0,
) -> np.ndarray:
    """Multiplicative item prior ``(recent+a)^p * ((recent+a)/(before_rate+a))^t``.

    ``before_rate`` is the buyer count of the earlier ``long_days`` scaled to
    ``recent_days``. Exponents 0 give a prior of ones (no effect).
    """
    if popularity_exponent == 0 and trend_exponent == 0:
        return np.ones(len(item_index))
    recent_start = as_of - pd.Timedelta(days=recent_days)
    recent = buyers_between(interactions, item_index, recent_start, as_of)
    before = buyers_between(
        interactions, item_index, recent_start - pd.Timedelta(days=long_days), recent_start
    )
    before = before * recent_days / long_days
    a = float(smoothing)
    prior = (recent + a) ** popularity_exponent * ((recent + a) / (before + a)) ** trend_exponent
    return prior / prior.max()
