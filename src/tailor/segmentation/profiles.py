"""Segment profiles (size, share, median RFM, top countries and items) and their plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

RFM = ("recency_days", "frequency", "monetary")
GROUPINGS = {"cluster": "cluster_label", "rule": "rule_segment"}


def _top_shares(values: pd.Series, top_n: int) -> str:
    shares = values.value_counts(normalize=True).head(top_n)
    return ", ".join(f"{k} {v:.0%}" for k, v in shares.items())


def _top_items(bought: pd.DataFrame, top_n: int) -> str:
    buyers = bought.groupby("name")["user_id"].nunique().sort_values(ascending=False)
    return "; ".join(buyers.head(top_n).index)


def segment_profiles(
    segments: pd.DataFrame,
    features: pd.DataFrame,
    lines: pd.DataFrame,
    items: pd.DataFrame,
    top_n: int,
) -> pd.DataFrame:
    """One row per cluster and per rule segment, from data up to the snapshot's as-of date."""
    df = segments.merge(features, on="user_id", how="left", validate="one_to_one")
    as_of = pd.to_datetime(features["as_of"]).max()
    past = lines.loc[lines["ts"] <= as_of, ["user_id", "item_id"]].drop_duplicates()
    names = items.set_index("item_id")["description"].astype(str)
    past = past.assign(name=past["item_id"].map(names).fillna(past["item_id"]))
    rows = []
    for grouping, col in GROUPINGS.items():
        bought = past.merge(df[["user_id", col]], on="user_id")
        for name, members in df.groupby(col, sort=False):
            row: dict[str, object] = {
                "grouping": grouping,
                "segment": name,
                "customers": len(members),
                "share": round(len(members) / len(df), 4),
            }
            if grouping == "cluster":
                row["cluster_id"] = int(members["cluster_id"].iloc[0])
            for m in RFM:
                row[f"median_{m}"] = round(float(members[m].median()), 2)
            row["top_countries"] = _top_shares(members["country"], top_n)
            for band in BANDS:  # given bands (age, income, household size) profile as mixes
                if band in members and members[band].notna().any():
                    row[f"top_{band}"] = _top_shares(members[band], top_n)
            row["top_items"] = _top_items(bought[bought[col] == name], top_n)
            rows.append(row)
    out = pd.DataFrame(rows)
    out["cluster_id"] = out["cluster_id"].astype("Int64")
    return out.sort_values(["grouping", "customers"], ascending=[True, False], ignore_index=True)


# Categorical customer attributes shown as their most common values per segment.
BANDS = ("age_band", "income", "household_size", "gender")


def plot_sizes(profiles: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(12, 5), layout="constrained")
    for ax, (grouping, part) in zip(fig.subplots(1, 2), profiles.groupby("grouping"), strict=True):
        part = part.sort_values("customers")
        ax.barh(part["segment"], part["customers"], color="tab:blue")
        for y, (n, s) in enumerate(zip(part["customers"], part["share"], strict=True)):
            ax.text(n, y, f" {s:.0%}", va="center", fontsize=8)
        ax.set_title(f"{grouping} segments: customers")
        ax.set_xlabel("customers")
    return fig


def plot_rfm(profiles: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(15, 8), layout="constrained")
    axes = fig.subplots(2, 3)
    for row, (grouping, part) in enumerate(profiles.groupby("grouping")):
        part = part.sort_values("customers")
        for ax, m in zip(axes[row], RFM, strict=True):
            ax.barh(part["segment"], part[f"median_{m}"], color="tab:green")
            ax.set_title(f"{grouping}: median {m}")
            if m != RFM[0]:
                ax.tick_params(labelleft=False)
    return fig


def plot_candidates(candidates: pd.DataFrame, n_range: tuple[int, int]) -> Figure:
    """Silhouette and Davies-Bouldin by cluster count for each algorithm; the choice circled."""
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    for ax, score in zip(fig.subplots(1, 2), ("silhouette", "davies_bouldin"), strict=True):
        ax.axvspan(n_range[0] - 0.5, n_range[1] + 0.5, color="0.92", label="usable range")
        for algo, part in candidates.groupby("algorithm"):
            part = part.sort_values("n_clusters")
            style = "o" if algo == "dbscan" else "o-"
            ax.plot(part["n_clusters"], part[score], style, label=algo)
        chosen = candidates[candidates["chosen"]]
        ax.plot(chosen["n_clusters"], chosen[score], "o", ms=14, mfc="none", mec="red",
                label="chosen")  # fmt: skip
        ax.set_xlabel("clusters")
        ax.set_title(score + (" (higher is better)" if score == "silhouette" else " (lower)"))
        ax.set_xticks(np.arange(2, max(int(candidates["n_clusters"].max()), n_range[1]) + 1))
    ax.legend(fontsize=8)
    return fig
