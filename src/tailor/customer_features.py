"""Point-in-time customer features: computed as of a date from data at or before it only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.campaigns import campaign_features
from tailor.frame_utils import modal_by

DAY = pd.Timedelta(days=1)


def _purchase_features(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    lines = lines.assign(
        value=lines["quantity"] * lines["unit_price"], day=lines["ts"].dt.normalize()
    )
    orders = lines.groupby(["user_id", "order_id"], sort=False).agg(
        ts=("ts", "min"), n_lines=("item_id", "nunique"), units=("quantity", "sum")
    )
    per_order = orders.groupby(level="user_id").agg(
        basket_size=("n_lines", "mean"), basket_units=("units", "mean")
    )
    users = lines.groupby("user_id", sort=True).agg(
        first_ts=("ts", "min"),
        last_ts=("ts", "max"),
        frequency=("order_id", "nunique"),
        purchase_days=("day", "nunique"),
        monetary=("value", "sum"),
        n_items=("item_id", "nunique"),
    )
    users["country"] = modal_by(lines, "user_id", "country").reindex(users.index).fillna("Unknown")
    days = lines[["user_id", "day"]].drop_duplicates().sort_values(["user_id", "day"])
    gaps = days.groupby("user_id")["day"].diff().dt.days.dropna()
    gap_stats = (
        gaps.groupby(days.loc[gaps.index, "user_id"])
        .agg(["mean", "median", "std"])
        .rename(columns=lambda c: f"interval_{c}")
    )
    out = users.join(per_order).join(gap_stats)
    out["recency_days"] = (as_of - out["last_ts"]) / DAY
    out["tenure_days"] = (as_of - out["first_ts"]) / DAY
    out["avg_order_value"] = out["monetary"] / out["frequency"]
    return out


def _event_features(events: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(events["user_id"], events["event_type"]).add_prefix("n_")
    for col in ("n_view", "n_add_to_cart", "n_search", "n_purchase"):
        if col not in counts:
            counts[col] = 0
    flags = pd.DataFrame(
        {
            "user_id": events["user_id"],
            "session_id": events["session_id"],
            "carted": events["event_type"] == "add_to_cart",
            "bought": events["event_type"] == "purchase",
        }
    )
    per_session = flags.groupby(["user_id", "session_id"], sort=False).max()
    per_session["abandoned"] = per_session["carted"] & ~per_session["bought"]
    sessions = per_session.groupby(level="user_id").agg(
        n_sessions=("abandoned", "size"), cart_abandon_sessions=("abandoned", "sum")
    )
    out = counts.join(sessions)
    if "channel" in events:
        out["app_share"] = (events["channel"] == "app").groupby(events["user_id"]).mean()
    if "device" in events:
        out["mobile_share"] = (events["device"] == "mobile").groupby(events["user_id"]).mean()
    return out


def _email_features(email: pd.DataFrame) -> pd.DataFrame:
    g = email.groupby("user_id")
    return pd.DataFrame(
        {
            "emails_received": g.size(),
            "email_open_rate": g["opened"].mean(),
            "email_click_rate": g["clicked"].mean(),
        }
    )


def age_columns(age: pd.Series) -> pd.DataFrame:
    """``age`` as a number where every given value is one, else ``age_band`` as text.

    Real exports give either ages or bands ("25-34", "65+"); a band is a category
    everywhere downstream (segments, fairness groups, drift), never parsed into a number.
    """
    given = age.dropna()
    numbers = pd.to_numeric(given, errors="coerce")
    if numbers.notna().all():
        return pd.DataFrame({"age": pd.to_numeric(age, errors="coerce").astype(float)})
    return pd.DataFrame({"age_band": age.astype(object).where(age.notna(), None)})


def customer_features(
    lines: pd.DataFrame,
    as_of: str | pd.Timestamp,
    users: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    email: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer who bought at or before ``as_of``; nothing later is read.

    Always: recency, frequency, monetary, purchase-interval stats, basket size, country,
    tenure. With events: channel/device mix, cart abandonment, views and searches. With
    email: open and click rates. With campaign exposures: campaigns received and the
    share responded to. With users: age (or age band), gender, location, income
    and household size bands, days since signup.
    """
    as_of = pd.Timestamp(as_of)
    past = lines[lines["ts"] <= as_of]
    out = _purchase_features(past, as_of)
    if events is not None and not events.empty:
        ev = events[(events["ts"] <= as_of) & events["user_id"].isin(out.index)]
        out = out.join(_event_features(ev))
    if email is not None and not email.empty:
        em = email[(email["sent_ts"] <= as_of) & email["user_id"].isin(out.index)]
        out = out.join(_email_features(em))
    demo = users.set_index("user_id") if users is not None and not users.empty else None
    return finish_features(out, as_of, demo, campaigns)


def finish_features(
    out: pd.DataFrame,
    as_of: pd.Timestamp,
    demo: pd.DataFrame | None,
    campaigns: pd.DataFrame | None,
) -> pd.DataFrame:
    """The per-customer columns (indexed by user) completed at ``as_of``: campaign rates,
    user attributes (``demo``: the users table indexed by user), counts as integers,
    ``as_of`` first. Shared by the pandas features and the Ibis snapshots
    (tailor.tables.features)."""
    if campaigns is not None and not campaigns.empty:
        out = out.join(campaign_features(campaigns[campaigns["user_id"].isin(out.index)], as_of))
        out["campaigns_received"] = out["campaigns_received"].fillna(0)
    if demo is not None:
        cols = [c for c in ("gender", "location", "income", "household_size") if c in demo]
        out = out.join(demo[cols])
        if "age" in demo:
            out = out.join(age_columns(demo["age"]))
        if "signup_ts" in demo:
            signup = demo["signup_ts"].astype("datetime64[ns]")  # a backend's microseconds
            signup = signup.where(signup <= as_of)
            out["days_since_signup"] = (as_of - signup.reindex(out.index)) / DAY
    count_cols = [c for c in out.columns if c.startswith("n_") or c.endswith("_sessions")]
    out[count_cols] = out[count_cols].fillna(0).astype(np.int64)
    out.insert(0, "as_of", as_of)
    return out.rename_axis("user_id").reset_index()
