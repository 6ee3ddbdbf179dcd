"""What repeat-aware candidates share: per-(user, item) purchase statistics from order lines.

Each order that holds an item counts once (a line repeated inside one order is one
purchase); ``decayed_counts`` weighs each of those orders by its age, so the score of an
item is a frequency with recency decay (P-TopFreq's, and TIFU-KNN's basket weights build on
the same order table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.frame_memo import per_frame
from tailor.recommenders.matrix import line_codes


def _order_items(interactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct (user_id, order_id, item_id) with the order's time ``ts``."""
    df = interactions[["user_id", "order_id", "item_id", "ts"]].astype(
        {"user_id": str, "item_id": str}
    )
    ts = df.groupby(["user_id", "order_id"], sort=False)["ts"].transform("max")
    df = df.assign(ts=ts).drop_duplicates(["user_id", "order_id", "item_id"])
    return df.reset_index(drop=True)


# Every repeat-aware model, trial and mix of a window reads the same order table.
order_items = per_frame(_order_items)


def decayed_counts(
    interactions: pd.DataFrame,
    user_index: dict[str, int],
    item_index: dict[str, int],
    as_of: pd.Timestamp,
    half_life_days: float | None,
) -> sp.csr_matrix:
    """users x items: sum over the orders holding the item of ``0.5 ** (age / half-life)``
    (plain order counts when ``half_life_days`` is 0 or None)."""
    df = order_items(interactions)
    rows, cols, keep = line_codes(df).in_index(user_index, item_index)
    w = np.ones(len(rows))
    if half_life_days:
        age = (as_of - df["ts"][keep]).dt.total_seconds().to_numpy() / 86400.0
        w = 0.5 ** (np.clip(age, 0, None) / float(half_life_days))
    x = sp.csr_matrix((w, (rows, cols)), shape=(len(user_index), len(item_index)))
    x.sum_duplicates()
    return x.astype(np.float64)


def personal_first(history_scores: np.ndarray, seen: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Scores that rank every bought item (by its history score) above every other item
    (by ``fill``, e.g. recent popularity scaled into [0, 1)): P-TopFreq's list."""
    return np.where(seen > 0, 1.0 + history_scores, fill[None, :])


def fill_scores(fallback: np.ndarray) -> np.ndarray:
    """The popularity fallback squeezed into [0, 1): below any bought item's score."""
    return fallback / (float(fallback.max()) + 1.0) if len(fallback) else fallback
