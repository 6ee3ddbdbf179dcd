"""The hold-out protocol of DESIGN.md applied to every candidate's recommendation lists.

Truth: items a user bought in the test window that they had not bought in train. Lists:
train items are removed (the recommender should already have done so; any left are
counted and logged, and the list closes up). Population: test users with at least one
relevant item (by default those known at the cutoff, see ``holdout_truth``); a user in
the population without a list counts with zeros.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tailor.item_catalog import buyers_per_item
from tailor.metrics import (
    ItemSimilarity,
    evaluated_users,
    lists_from_frame,
    metric_key,
    per_user_beyond_accuracy,
    per_user_ranking_metrics,
    relevant_sets,
    self_information,
    user_metrics_at_k,
)

log = logging.getLogger(__name__)

RECOMMENDATION_COLUMNS = ("candidate", "user_id", "rank", "item_id", "score")


def drop_train_items(recs: pd.DataFrame, train: pd.DataFrame, max_k: int) -> pd.DataFrame:
    """Recommendations without user-item pairs seen in train, cut at ``max_k`` per list.

    Two rows with the same (candidate, user, rank) are refused: they mean two models were
    written under one candidate name, and their lists would be silently mixed.
    """
    missing = set(RECOMMENDATION_COLUMNS) - set(recs.columns)
    if missing:
        raise ValueError(f"recommendations lack columns {sorted(missing)}")
    recs = recs.assign(user_id=recs["user_id"].astype(str), item_id=recs["item_id"].astype(str))
    clash = recs.duplicated(["candidate", "user_id", "rank"])
    if clash.any():
        names = sorted(recs.loc[clash, "candidate"].astype(str).unique())
        raise ValueError(
            f"recommendations hold two items at the same rank for candidates {names}: "
            "two models probably share a candidate name"
        )
    seen = train[["user_id", "item_id"]].astype(str).drop_duplicates()
    merged = recs.merge(seen.assign(_seen=True), on=["user_id", "item_id"], how="left")
    leaked = merged["_seen"].notna()
    if leaked.any():
        log.warning(
            "%d recommended rows are items the user bought in train; removed before scoring",
            int(leaked.sum()),
        )
    kept = merged.loc[~leaked, list(RECOMMENDATION_COLUMNS)]
    kept = kept.sort_values(["candidate", "user_id", "rank", "item_id"], kind="mergesort")
    kept = kept.drop_duplicates(["candidate", "user_id", "item_id"])
    kept["rank"] = kept.groupby(["candidate", "user_id"]).cumcount() + 1
    return kept[kept["rank"] <= max_k].reset_index(drop=True)


POPULATIONS = ("train_users", "all_test_users")


def holdout_truth(
    train: pd.DataFrame,
    test: pd.DataFrame,
    cutoff: str,
    window_days: int,
    population: str = "train_users",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Relevant (user, item) pairs with ``in_window`` (first bought within ``window_days``).

    ``population``: ``train_users`` evaluates customers known at the cutoff (the ones every
    candidate can score; the recommender's own numbers use the same population), while
    ``all_test_users`` also keeps customers first seen in the test window, who then count
    with zeros unless a candidate lists them. Returns the truth and the population counts.
    """
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {POPULATIONS}, got {population!r}")
    first = (
        test.assign(user_id=test["user_id"].astype(str), item_id=test["item_id"].astype(str))
        .groupby(["user_id", "item_id"], as_index=False)["ts"]
        .min()
    )
    relevant = relevant_sets(first, train)
    known = set(train["user_id"].astype(str))
    new_users = {u for u in relevant if u not in known}
    if population == "train_users":
        relevant = {u: items for u, items in relevant.items() if u in known}
    pairs = pd.DataFrame(
        [(u, i) for u, items in relevant.items() for i in sorted(items)],
        columns=["user_id", "item_id"],
    )
    truth = pairs.merge(first, on=["user_id", "item_id"], how="left")
    horizon = pd.Timestamp(cutoff) + pd.Timedelta(days=window_days)
    truth["in_window"] = truth["ts"] <= horizon
    counts = {
        "test_buyers": int(first["user_id"].nunique()),
        "evaluated": len(relevant),
        "new_in_test": len(new_users),
        "new_excluded": len(new_users) if population == "train_users" else 0,
        "only_rebought": int(first["user_id"].nunique())
        - len(relevant)
        - (len(new_users) if population == "train_users" else 0),
    }
    truth = truth.rename(columns={"ts": "first_ts"}).sort_values(["user_id", "item_id"])
    return truth.reset_index(drop=True), counts


def truth_sets(truth: pd.DataFrame, window_only: bool = False) -> dict[str, set[str]]:
    """Relevant sets per user from the truth frame (optionally only in-window purchases)."""
    rows = truth[truth["in_window"]] if window_only else truth
    return {u: set(items) for u, items in rows.groupby("user_id")["item_id"]}


def conversion_per_user(
    recommended: dict[str, list[str]],
    users: Sequence[str],
    window_truth: dict[str, set[str]],
    ks: Sequence[int],
) -> pd.DataFrame:
    """``conversion_at_<k>``: the user bought a top-k item within the conversion window.

    The offline stand-in for the service's conversion rate; users without an in-window
    purchase count as not converted (same population as every other metric).
    """
    data = {metric_key("conversion", k): [] for k in ks}
    for user in users:
        bought = window_truth.get(user)
        for k in ks:
            hit = (
                bool(bought) and user_metrics_at_k(recommended.get(user, []), bought, k)["hit_rate"]
            )
            data[metric_key("conversion", k)].append(float(hit))
    return pd.DataFrame(data, index=pd.Index(list(users), name="user_id", dtype=object))


def train_self_information(train: pd.DataFrame, catalog: pd.DataFrame) -> dict[str, float]:
    """Self-information of every catalog item from its share of train buyers."""
    counts = buyers_per_item(train, catalog["item_id"])
    return self_information(counts.to_dict(), int(train["user_id"].nunique()))


def per_user_table(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    train: pd.DataFrame,
    catalog: pd.DataFrame,
    ks: Sequence[int],
) -> pd.DataFrame:
    """Every per-user metric of every candidate: rows (candidate, user_id), one column each."""
    relevant = truth_sets(truth)
    window = truth_sets(truth, window_only=True)
    users = evaluated_users(relevant)
    info = train_self_information(train, catalog)
    similarity = ItemSimilarity.from_text(
        catalog["item_id"].astype(str).tolist(), catalog["text"].fillna("").tolist()
    )
    frames = []
    for candidate, rows in recs.groupby("candidate", sort=True):
        lists = lists_from_frame(rows)
        covered = np.mean([u in lists for u in users]) if users else 0.0
        log.info(
            "candidate %s: %d users evaluated, %.1f%% have a list",
            candidate,
            len(users),
            100 * covered,
        )
        frame = pd.concat(
            [
                per_user_ranking_metrics(lists, relevant, ks),
                conversion_per_user(lists, users, window, ks),
                per_user_beyond_accuracy(lists, users, ks, info, similarity),
            ],
            axis=1,
        )
        frames.append(frame.reset_index().assign(candidate=str(candidate)))
    if not frames:
        raise ValueError("no recommendations to evaluate")
    out = pd.concat(frames, ignore_index=True)
    return out[
        ["candidate", "user_id", *[c for c in out.columns if c not in ("candidate", "user_id")]]
    ]
