"""Replenishment: items a customer buys repeatedly that are due again soon.

For each (customer, item) bought on at least ``min_purchase_days`` distinct days, the item's
interval is the median gap between those days; the item is due at last purchase + interval.
Candidates are due between ``overdue_days`` before and ``horizon_days`` after the as-of
date; the score (0..1] is highest when due exactly now and decays with the distance from the
due date measured in intervals, times a regularity factor (1 / (1 + CV of the gaps)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
COLUMNS = ["user_id", "item_id", "interval_days", "last_bought", "due_date", "score"]


def replenishment_candidates(
    lines: pd.DataFrame,
    as_of: pd.Timestamp,
    min_purchase_days: int,
    horizon_days: int,
    overdue_days: int,
) -> pd.DataFrame:
    """The due-again-soon table as of ``as_of`` from lines at or before it only."""
    past = lines[lines["ts"] <= as_of]
    days = (
        past.assign(day=past["ts"].dt.normalize())[["user_id", "item_id", "day"]]
        .drop_duplicates()
        .sort_values(["user_id", "item_id", "day"])
    )
    days["gap"] = days.groupby(["user_id", "item_id"])["day"].diff() / DAY
    stats = days.groupby(["user_id", "item_id"]).agg(
        n_days=("day", "size"),
        last_bought=("day", "max"),
        interval_days=("gap", "median"),
        gap_mean=("gap", "mean"),
        gap_std=("gap", "std"),
    )
    stats = stats[stats["n_days"] >= min_purchase_days].reset_index()
    if stats.empty:
        return pd.DataFrame(columns=COLUMNS)
    stats["due_date"] = stats["last_bought"] + stats["interval_days"] * DAY
    until_due = (stats["due_date"] - as_of.normalize()) / DAY
    keep = (until_due >= -overdue_days) & (until_due <= horizon_days)
    stats = stats[keep].copy()
    until_due = until_due[keep]
    cv = (stats["gap_std"].fillna(0) / stats["gap_mean"].clip(lower=1)).to_numpy()
    closeness = np.exp(-np.abs(until_due.to_numpy()) / stats["interval_days"].clip(lower=1))
    stats["score"] = closeness / (1.0 + cv)
    out = stats[COLUMNS].sort_values(["user_id", "score"], ascending=[True, False])
    return out.reset_index(drop=True)


def replenishment_hit_rate(
    candidates: pd.DataFrame, future: pd.DataFrame, window_days: int, as_of: pd.Timestamp
) -> float:
    """Share of candidate (customer, item) pairs bought again within ``window_days``."""
    if candidates.empty:
        return float("nan")
    bought = future[(future["ts"] > as_of) & (future["ts"] <= as_of + window_days * DAY)]
    pairs = set(zip(bought["user_id"], bought["item_id"], strict=True))
    hits = [
        (u, i) in pairs for u, i in zip(candidates["user_id"], candidates["item_id"], strict=True)
    ]
    return float(np.mean(hits))
