"""Who a test user is, for breakdowns: segment, country group, age band, gender, activity.

Every grouping is a column of one frame (index ``user_id``); a user the grouping knows
nothing about is in group ``unknown`` (e.g. a customer first seen in the test window has no
train-time segment), and a grouping that is unknown for everyone is dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

UNKNOWN = "unknown"
# User attributes that are groups as given (bands, not free text such as a city).
BAND_GROUPS = ("gender", "income", "household_size")


def country_group(
    country: pd.Series, home: str, region: Sequence[str], region_name: str = "rest of region"
) -> pd.Series:
    """Home country / rest of a region / rest of world (missing country: unknown)."""
    near = {c.lower() for c in region}
    name = country.astype(object).where(country.notna(), "").astype(str).str.strip().str.lower()
    out = np.where(
        name == home.lower(), home, np.where(name.isin(near), region_name, "rest of world")
    )
    return pd.Series(out, index=country.index).where(~name.isin(["", "unknown"]), UNKNOWN)


def home_country(country: pd.Series) -> str:
    """The shop's home market when not configured: the country most test users are in."""
    known = country.dropna().astype(str)
    known = known[~known.str.lower().isin(["", "unknown"])]
    return str(known.mode().iat[0]) if len(known) else UNKNOWN


def age_band(age: pd.Series, edges: Sequence[float]) -> pd.Series:
    """Age bands from ascending edges: [25, 35, 50] → '<25', '25-34', '35-49', '50+'."""
    edges = sorted(edges)
    labels = [f"<{edges[0]:g}"]
    labels += [f"{lo:g}-{hi - 1:g}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"{edges[-1]:g}+")
    bins = [-np.inf, *edges, np.inf]
    band = pd.cut(pd.to_numeric(age, errors="coerce"), bins=bins, labels=labels, right=False)
    return band.astype(object).where(band.notna(), UNKNOWN)


def activity(orders: pd.Series, heavy_min_orders: int) -> pd.Series:
    """new (no train order) / cold (1 order) / warm / heavy (>= ``heavy_min_orders``)."""
    n = pd.to_numeric(orders, errors="coerce").fillna(0)
    out = np.select(
        [n <= 0, n == 1, n >= heavy_min_orders], ["new", "cold", "heavy"], default="warm"
    )
    return pd.Series(out, index=orders.index)


ACTIVITY_ORDER = ("new", "cold", "warm", "heavy")


def group_sort_key(grouping: str, group: str) -> tuple[int, float, str]:
    """Natural order for reports: activity by level, age bands by age, unknown last."""
    if group == UNKNOWN:
        return (2, 0.0, group)
    if grouping == "activity" and group in ACTIVITY_ORDER:
        return (0, float(ACTIVITY_ORDER.index(group)), group)
    if grouping == "age_band":
        digits = "".join(ch if ch.isdigit() or ch == "." else " " for ch in group).split()
        low = -1.0 if group.startswith("<") else float(digits[0]) if digits else 0.0
        return (0, low, group)
    return (1, 0.0, group)


def user_groups(
    users: Sequence[str],
    features: pd.DataFrame,
    segments: pd.DataFrame | None,
    test: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """One row per user (index ``user_id``), one column per grouping, all strings.

    ``features`` are the train-time customer features (frequency, country, age, gender);
    countries of users new in the test window come from their test purchases.
    """
    index = pd.Index([str(u) for u in users], name="user_id", dtype=object)
    feats = features.assign(user_id=features["user_id"].astype(str)).set_index("user_id")
    feats = feats[~feats.index.duplicated()].reindex(index)
    out = pd.DataFrame(index=index)
    if segments is not None and not segments.empty:
        seg = segments.assign(user_id=segments["user_id"].astype(str)).set_index("user_id")
        seg = seg[~seg.index.duplicated()].reindex(index)
        if "cluster_label" in seg:
            out["cluster"] = seg["cluster_label"]
        elif "cluster_id" in seg:
            out["cluster"] = seg["cluster_id"].astype("Int64").astype("string")
        if "rule_segment" in seg:
            out["rule_segment"] = seg["rule_segment"]
    country = feats["country"] if "country" in feats else pd.Series(index=index, dtype=object)
    if "country" in test:
        test_country = test.assign(user_id=test["user_id"].astype(str)).groupby("user_id")[
            "country"
        ]
        # a shop without countries has none to fill in (mode of nothing is nothing)
        modal = test_country.agg(lambda s: s.mode().iat[0] if s.notna().any() else None)
        country = country.fillna(modal.reindex(index))
    home = params.get("home_country") or home_country(country)
    out["country_group"] = country_group(
        country, home, params.get("region") or [], params.get("region_name", "rest of region")
    )
    if "age_band" in feats:
        out["age_band"] = feats["age_band"]
    elif "age" in feats:
        out["age_band"] = age_band(feats["age"], params["age_edges"])
    for col in BAND_GROUPS:
        if col in feats:
            out[col] = feats[col]
    orders = feats["frequency"] if "frequency" in feats else pd.Series(0, index=index)
    out["activity"] = activity(orders, params["heavy_min_orders"])
    out = out.astype(object).where(out.notna(), UNKNOWN).astype(str)
    known = [c for c in out.columns if (out[c] != UNKNOWN).any()]
    return out[known]
