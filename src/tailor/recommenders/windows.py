"""Rolling-origin validation windows inside train, and the items a model may rank.

Selection on one validation window fitted that window's quirks (a holiday peak, a ramp
that ended) and did not predict the next one. Tuning and selection therefore score every
candidate on ``n_windows`` consecutive windows that end at the train/test cutoff, each as
long as the test window unless ``window_days`` says otherwise; window ``i`` is fitted on
everything before it. Nothing here reads the test window's rows: only the data's last
timestamp (its span) sets the default window length.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tailor.item_catalog import buyers_per_item, items_known_by
from tailor.recommenders.evaluate import holdout_truth, next_basket_truth
from tailor.splits import split_by_time

log = logging.getLogger(__name__)


@dataclass
class Window:
    """One validation window: fit on ``fit`` (ts <= start), validate on (start, end]."""

    start: pd.Timestamp
    end: pd.Timestamp
    fit: pd.DataFrame  # rankable items only (what models train on)
    items: pd.DataFrame  # rankable catalog as of ``start``
    n_items_all: int  # items sold by ``start`` (coverage over all items)
    users: pd.DataFrame  # user attributes as of ``start``
    relevant: dict[str, set[str]]  # new items per fit user in the window
    # next-basket protocol: every item each fit user bought in the window (repeats too),
    # and what each bought before it (all fit lines, rankable or not)
    basket: dict[str, set[str]] = field(default_factory=dict)
    bought: dict[str, set[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.start.date()}..{self.end.date()}"


def window_bounds(
    cutoff: str | pd.Timestamp,
    data_start: pd.Timestamp,
    test_end: pd.Timestamp,
    n_windows: int,
    window_days: float | None,
    min_fit_days: float | None,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``(start, end]`` of each window, oldest first; the last ends at ``cutoff``.

    ``window_days`` null: the test window's length (``test_end - cutoff``). Windows whose
    fit period would be shorter than ``min_fit_days`` (null: half a window length) are
    dropped with a warning naming the parameter; no window left is an error.
    """
    cutoff = pd.Timestamp(cutoff)
    length = (
        pd.Timedelta(days=float(window_days))
        if window_days
        else max(pd.Timestamp(test_end) - cutoff, pd.Timedelta(days=1))
    )
    min_fit = length / 2 if min_fit_days is None else pd.Timedelta(days=float(min_fit_days))
    bounds = []
    for i in range(int(n_windows), 0, -1):
        start = cutoff - i * length
        if start - pd.Timestamp(data_start) < min_fit:
            log.warning(
                "recommender.validation.n_windows=%d: window %s..%s dropped, its fit period "
                "would be shorter than min_fit_days=%s (%d days)",
                n_windows,
                start.date(),
                (start + length).date(),
                min_fit_days,
                min_fit.days,
            )
            continue
        bounds.append((start, start + length))
    if not bounds:
        raise ValueError(
            "recommender.validation: no validation window fits inside train "
            f"(cutoff {cutoff.date()}, data from {pd.Timestamp(data_start).date()}, "
            f"window {length}); lower window_days or min_fit_days"
        )
    return bounds


def rankable_items(
    items: pd.DataFrame, interactions: pd.DataFrame, min_buyers: int
) -> pd.DataFrame:
    """Catalog items sold by the end of ``interactions`` with >= ``min_buyers`` buyers.

    Items with fewer buyers carry no usable co-purchase signal and would only grow every
    item dimension (the catalog can hold 100k items); they are neither ranked nor tuned.
    """
    known = items_known_by(items, interactions)
    buyers = buyers_per_item(interactions)
    keep = known["item_id"].map(buyers).fillna(0) >= int(min_buyers)
    return known[keep.to_numpy()].reset_index(drop=True)


def restrict(interactions: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """The interaction lines of rankable items (what candidates are fitted on)."""
    keep = interactions["item_id"].isin(items["item_id"])
    return interactions[keep.to_numpy()].reset_index(drop=True)


def line_attributes(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """RFM numbers per user from the lines up to ``as_of`` (what the bands are made of):
    computed per window so a window's user attributes never see its own validation data."""
    value = lines["quantity"] * lines["unit_price"] if "unit_price" in lines else 0.0
    g = lines.assign(value=value).groupby("user_id")
    out = pd.DataFrame(
        {
            "recency_days": (as_of - g["ts"].max()).dt.total_seconds() / 86400.0,
            "frequency": g["order_id"].nunique().astype(float),
            "monetary": g["value"].sum().astype(float),
        }
    )
    out["avg_order_value"] = out["monetary"] / out["frequency"].clip(lower=1.0)
    return out.reset_index()


def window_features(
    features: pd.DataFrame, lines: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """``features`` with its line-based columns recomputed as of ``as_of`` (the others,
    demographics and country, do not move with the window)."""
    fresh = line_attributes(lines, as_of)
    base = features.astype({"user_id": str}).drop_duplicates("user_id")
    base = base.drop(columns=[c for c in fresh.columns if c != "user_id" and c in base])
    out = fresh.astype({"user_id": str}).merge(base, on="user_id", how="left")
    return out


def make_windows(
    train: pd.DataFrame,
    items: pd.DataFrame,
    bounds: list[tuple[pd.Timestamp, pd.Timestamp]],
    min_buyers: int,
    users_at: Any,
) -> list[Window]:
    """The windows' fit data (rankable items only), truth and user attributes.

    ``users_at(fit_lines, as_of)`` builds the user attributes as of a window's start.
    """
    train = train.astype({"user_id": str, "item_id": str})
    out = []
    for start, end in bounds:
        fit, val = split_by_time(train, start, end=end)
        ranked = rankable_items(items, fit, min_buyers)
        relevant = holdout_truth(fit, val)
        basket, bought = next_basket_truth(fit, val)
        if not relevant:
            log.warning("validation window %s..%s has no evaluated user", start, end)
            continue
        out.append(
            Window(
                start=start,
                end=end,
                fit=restrict(fit, ranked),
                items=ranked,
                n_items_all=len(items_known_by(items, fit)),
                users=users_at(fit, start),
                relevant=relevant,
                basket=basket,
                bought=bought,
            )
        )
        log.info(
            "validation window %s..%s: %d fit lines, %d rankable of %d items, %d users",
            start.date(),
            end.date(),
            len(out[-1].fit),
            len(ranked),
            out[-1].n_items_all,
            len(relevant),
        )
    if not out:
        raise ValueError("recommender.validation: every validation window is empty")
    return out


def summarise_windows(per_window: list[dict[str, float]], target: str) -> dict[str, float]:
    """Mean of every metric over windows, plus the target's spread (std, min, max)."""
    keys = [k for k in per_window[0] if k != "n_users"]
    out = {k: float(np.mean([w[k] for w in per_window])) for k in keys}
    values = np.array([w[target] for w in per_window])
    out[f"{target}_std"] = float(values.std())
    out[f"{target}_min"] = float(values.min())
    out[f"{target}_max"] = float(values.max())
    return out
