"""Fairness audit: quality gaps between user groups and exposure gaps between items.

- Equal opportunity: per grouping, best- vs worst-served group in a per-user metric
  (Recall@10 by default), as a difference and a ratio (fairlearn ``MetricFrame``).
- Popularity bias: share of recommendation slots per item-popularity decile, against the
  share of what users actually bought in the test window.
- Demographic parity of receiving a category: per grouping, the spread across groups of the
  share of users whose top K contains the category (fairlearn's demographic parity
  difference, checked against fairlearn in the tests).
Groups smaller than ``min_group_users`` and the ``unknown`` group are left out of gaps:
their means are noise, and a gap driven by five users flags nothing real.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from tailor.evaluation.groups import UNKNOWN
from tailor.item_catalog import buyers_per_item

log = logging.getLogger(__name__)

GAP_COLUMNS = [
    "candidate",
    "grouping",
    "metric",
    "n_groups",
    "best_group",
    "best",
    "worst_group",
    "worst",
    "gap",
    "ratio",
]
PARITY_COLUMNS = [
    "candidate",
    "grouping",
    "category",
    "parity_difference",
    "lowest_group",
    "highest_group",
    "overall_rate",
]


def _mean_of_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """MetricFrame metric: the per-user metric values travel as ``y_pred``."""
    return float(np.mean(y_pred))


def eligible(groups: pd.Series, min_group_users: int) -> pd.Series:
    """Mask of users in known groups with at least ``min_group_users`` members."""
    sizes = groups.map(groups.value_counts())
    return (groups != UNKNOWN) & (sizes >= min_group_users)


def quality_gaps(
    per_user: pd.DataFrame, groups: pd.DataFrame, metric: str, min_group_users: int
) -> pd.DataFrame:
    """Rows (candidate, grouping): best/worst group, their means, gap and ratio (worst/best)."""
    joined = per_user.join(groups, on="user_id")
    rows = []
    for candidate, frame in joined.groupby("candidate", sort=True):
        for grouping in groups.columns:
            mask = eligible(frame[grouping], min_group_users)
            if frame.loc[mask, grouping].nunique() < 2:
                continue
            mf = MetricFrame(
                metrics=_mean_of_predictions,
                y_true=np.zeros(int(mask.sum())),
                y_pred=frame.loc[mask, metric].to_numpy(dtype=float),
                sensitive_features=frame.loc[mask, grouping].to_numpy(),
            )
            by_group = mf.by_group
            rows.append(
                {
                    "candidate": candidate,
                    "grouping": grouping,
                    "metric": metric,
                    "n_groups": len(by_group),
                    "best_group": str(by_group.idxmax()),
                    "best": float(mf.group_max()),
                    "worst_group": str(by_group.idxmin()),
                    "worst": float(mf.group_min()),
                    "gap": float(mf.difference()),
                    "ratio": float(mf.ratio()),
                }
            )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def popularity_bins(train: pd.DataFrame, catalog: pd.DataFrame, n_bins: int) -> pd.Series:
    """Popularity bin (1 = least, ``n_bins`` = most bought in train) of every catalog item.

    Items are ranked by distinct train buyers (ties by id, so bins have equal item counts).
    """
    items = catalog["item_id"].astype(str)
    pop = pd.DataFrame({"item_id": items, "buyers": buyers_per_item(train, items).to_numpy()})
    order = pop.sort_values(["buyers", "item_id"]).reset_index(drop=True)
    order["bin"] = (np.arange(len(order)) * n_bins // max(len(order), 1)) + 1
    return order.set_index("item_id")["bin"]


def exposure_by_popularity(
    recs: pd.DataFrame, truth: pd.DataFrame, bins: pd.Series, k: int, n_bins: int
) -> pd.DataFrame:
    """Share of top-``k`` slots per popularity bin for each candidate, plus two references.

    References: ``test purchases`` (relevant items actually bought) and ``catalog`` (the
    share of items in the bin, 1/n_bins). Items outside the catalog land in bin 1.
    """
    top = recs[recs["rank"] <= k]
    sources = {str(c): rows["item_id"] for c, rows in top.groupby("candidate", sort=True)}
    sources["test purchases"] = truth["item_id"]
    rows = []
    for source, items in sources.items():
        b = items.astype(str).map(bins).fillna(1).astype(int)
        share = b.value_counts(normalize=True).reindex(range(1, n_bins + 1), fill_value=0.0)
        rows += [{"source": source, "bin": i, "share": float(s)} for i, s in share.items()]
    rows += [{"source": "catalog", "bin": i, "share": 1.0 / n_bins} for i in range(1, n_bins + 1)]
    return pd.DataFrame(rows)


def popularity_bias(exposure: pd.DataFrame, n_bins: int) -> pd.DataFrame:
    """Per candidate: top-bin share of slots and its ratio to the top-bin share of purchases."""
    top = exposure[exposure["bin"] == n_bins].set_index("source")["share"]
    bought = float(top.get("test purchases", np.nan))
    out = top.drop(["test purchases", "catalog"], errors="ignore").rename("top_bin_share")
    frame = out.to_frame().rename_axis("candidate").reset_index()
    frame["purchases_top_bin_share"] = bought
    frame["top_bin_ratio"] = frame["top_bin_share"] / bought if bought > 0 else np.nan
    return frame


def category_parity(
    recs: pd.DataFrame,
    groups: pd.DataFrame,
    catalog: pd.DataFrame,
    k: int,
    min_group_users: int,
    n_categories: int,
) -> pd.DataFrame:
    """Rows (candidate, grouping, category): selection-rate spread across groups.

    A user "receives" a category when it appears in their top ``k``; the spread of that
    rate between groups is fairlearn's demographic parity difference (between groups),
    computed for all categories at once with one group-by instead of one MetricFrame each.
    Categories: the ``n_categories`` most recommended ones per candidate.
    """
    category = catalog.astype({"item_id": str}).set_index("item_id")["category"].astype(str)
    top = recs[recs["rank"] <= k].assign(category=lambda d: d["item_id"].map(category))
    users = groups.index
    rows = []
    for candidate, rows_c in top.groupby("candidate", sort=True):
        received = pd.crosstab(rows_c["user_id"], rows_c["category"]).reindex(users, fill_value=0)
        popular = list(rows_c["category"].value_counts().index[:n_categories])
        received = received[popular] > 0
        for grouping in groups.columns:
            mask = eligible(groups[grouping], min_group_users)
            if groups.loc[mask, grouping].nunique() < 2:
                continue
            rates = received[mask].groupby(groups.loc[mask, grouping]).mean()
            overall = received[mask].mean()
            for cat in popular:
                rows.append(
                    {
                        "candidate": candidate,
                        "grouping": grouping,
                        "category": cat,
                        "parity_difference": float(rates[cat].max() - rates[cat].min()),
                        "lowest_group": str(rates[cat].idxmin()),
                        "highest_group": str(rates[cat].idxmax()),
                        "overall_rate": float(overall[cat]),
                    }
                )
    return pd.DataFrame(rows, columns=PARITY_COLUMNS)


def fairness_flags(
    gaps: pd.DataFrame,
    bias: pd.DataFrame,
    parity: pd.DataFrame,
    candidate: str,
    thresholds: dict[str, Any],
) -> dict[str, str]:
    """MLflow tags for ``candidate``: which audit exceeded its threshold (logged as warnings)."""
    tags: dict[str, str] = {}
    flagged = []
    g = gaps[gaps["candidate"] == candidate] if not gaps.empty else gaps
    for row in g.itertuples():
        bad = row.gap > thresholds["max_gap"] or row.ratio < thresholds["min_ratio"]
        tags[f"fairness.{row.grouping}.{row.metric}"] = (
            f"gap={row.gap:.4f} ratio={row.ratio:.3f} best={row.best_group} worst={row.worst_group}"
        )
        if bad:
            flagged.append(f"{row.grouping}: {row.metric} gap {row.gap:.3f}, ratio {row.ratio:.2f}")
    b = bias[bias["candidate"] == candidate] if not bias.empty else bias
    for row in b.itertuples():
        tags["fairness.popularity_top_bin_ratio"] = f"{row.top_bin_ratio:.3f}"
        if row.top_bin_ratio > thresholds["max_top_bin_ratio"]:
            flagged.append(f"popularity: top-bin exposure {row.top_bin_ratio:.2f}x purchases")
    p = parity[parity["candidate"] == candidate] if not parity.empty else parity
    for grouping, rows in p.groupby("grouping", sort=True):
        worst = rows.loc[rows["parity_difference"].idxmax()]
        tags[f"fairness.{grouping}.category_parity"] = (
            f"max_diff={worst['parity_difference']:.4f} category={worst['category']}"
        )
        if worst["parity_difference"] > thresholds["max_category_parity_diff"]:
            flagged.append(
                f"{grouping}: category '{worst['category']}' parity difference "
                f"{worst['parity_difference']:.3f}"
            )
    for message in flagged:
        log.warning("fairness threshold exceeded for %s: %s", candidate, message)
    tags["fairness.flagged"] = str(bool(flagged)).lower()
    tags["fairness.flags"] = "; ".join(flagged)[:4900] or "none"
    tags["fairness.candidate"] = candidate
    return tags
