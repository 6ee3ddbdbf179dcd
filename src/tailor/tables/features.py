"""Point-in-time customer features: the line, event and e-mail scans as Ibis aggregations.

Only rows at or before ``as_of`` are read. The scans reduce to one row per customer in the
backend; that small table is assembled in pandas with the column order and types of
:func:`tailor.customer_features.customer_features` (which the parity tests compare).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from tailor.campaigns import campaign_features
from tailor.customer_features import age_columns, buyers_events
from tailor.schemas import EVENT_TYPES
from tailor.tables import backend as be

DAY = pd.Timedelta(days=1)
SECONDS_PER_DAY = 86_400


def modal_by(t: ibis.Table, key: str, col: str) -> ibis.Table:
    """Most frequent non-null ``col`` per ``key``; ties go to the smallest value."""
    counts = t.filter(t[col].notnull()).group_by([key, col]).aggregate(_n=ibis._.count())
    rank = ibis.row_number().over(group_by=key, order_by=[ibis.desc("_n"), col])
    return counts.mutate(_rank=rank).filter(ibis._._rank == 0).select(key, col)


def _by_user(t: ibis.Table) -> pd.DataFrame:
    return t.to_pandas().set_index("user_id").sort_index()


def _purchase_features(lines: ibis.Table, as_of: pd.Timestamp) -> pd.DataFrame:
    lines = lines.mutate(
        value=lines.quantity * lines.unit_price,
        _day=lines.ts.epoch_seconds() // SECONDS_PER_DAY,
    )
    orders = lines.group_by(["user_id", "order_id"]).aggregate(
        n_lines=lines.item_id.nunique(), units=be.exact_sum(lines.quantity)
    )
    per_order = orders.group_by("user_id").aggregate(
        frequency=orders.count(),
        basket_size=orders.n_lines.mean(),
        basket_units=be.exact_mean(orders.units),
    )
    users = lines.group_by("user_id").aggregate(
        first_ts=lines.ts.min(),
        last_ts=lines.ts.max(),
        monetary=be.exact_sum(lines.value),
        n_items=lines.item_id.nunique(),
    )
    days = lines.select("user_id", "_day").distinct()
    gap = days._day - days._day.lag().over(group_by="user_id", order_by="_day")
    days = days.mutate(_gap=gap.cast("int64"))
    # whole days: integer moments give a mean and deviation that no thread order can move
    gaps = days.group_by("user_id").aggregate(
        purchase_days=days.count(),
        _n=days._gap.count(),
        _s1=days._gap.sum(),
        _s2=(days._gap * days._gap).sum(),
        interval_median=days._gap.median().cast("float64"),
    )
    country = modal_by(lines, "user_id", "country")
    out = be.left_join(users, per_order, "user_id")
    out = be.left_join(out, gaps, "user_id")
    out = be.left_join(out, country, "user_id")
    frame = _by_user(out)
    n, s1, s2 = (frame.pop(c).astype("float64") for c in ("_n", "_s1", "_s2"))
    frame["interval_mean"] = (s1 / n).where(n > 0)
    frame["interval_std"] = np.sqrt((n * s2 - s1 * s1).clip(lower=0) / (n * (n - 1))).where(n > 1)
    frame["country"] = frame["country"].fillna("Unknown")
    frame["first_ts"] = frame["first_ts"].astype("datetime64[ns]")
    frame["last_ts"] = frame["last_ts"].astype("datetime64[ns]")
    cols = ["first_ts", "last_ts", "frequency", "purchase_days", "monetary", "n_items"]
    cols += ["country", "basket_size", "basket_units"]
    cols += ["interval_mean", "interval_median", "interval_std"]
    frame = frame[cols]
    frame["recency_days"] = (as_of - frame["last_ts"]) / DAY
    frame["tenure_days"] = (as_of - frame["first_ts"]) / DAY
    frame["avg_order_value"] = frame["monetary"] / frame["frequency"]
    return frame


def event_counts_at(events: ibis.Table, instants: list[pd.Timestamp]) -> pd.DataFrame:
    """Every user's event columns at each instant, as
    :func:`tailor.customer_features.event_counts_at` gives them: one scan of the events
    serves every instant. Each event carries how many instants lie before it; each count
    per session is filtered by that, then summed per user (the shares as whole counts over
    events). A session counts at an instant if one of its events does."""
    instants = sorted({pd.Timestamp(t) for t in instants})
    period = ibis.literal(0, "int8")  # instants before the event (null time: in none)
    for when in instants:
        period = period + (events.ts > be.ts_literal(when)).cast("int8")
    flags = {f"n_{t}": events.event_type == t for t in EVENT_TYPES}
    shares = {}
    for col, value, share in (
        ("channel", "app", "app_share"),
        ("device", "mobile", "mobile_share"),
    ):
        if col in events.columns:
            # a missing channel counts as "not app" (as pandas: NaN == 'app' is False)
            flags[f"_{share}"] = (events[col] == value).fill_null(False)
            shares[share] = f"_{share}"
    ev = events.select("user_id", "session_id", _period=period, **flags)
    per_session = {}
    for k in range(len(instants)):
        within = ev._period <= k
        per_session |= {f"{c}@{k}": ev.count(where=within & ev[c]) for c in flags}
        per_session[f"_events@{k}"] = ev.count(where=within)
    sessions = ev.group_by(["user_id", "session_id"]).aggregate(**per_session)
    per_user = {c: sessions[c].sum() for c in per_session}
    for k in range(len(instants)):
        abandoned = (sessions[f"n_add_to_cart@{k}"] > 0) & (sessions[f"n_purchase@{k}"] == 0)
        per_user[f"n_sessions@{k}"] = sessions.count(where=sessions[f"_events@{k}"] > 0)
        per_user[f"cart_abandon_sessions@{k}"] = sessions.count(where=abandoned)
    counts = sessions.group_by("user_id").aggregate(**per_user).to_pandas()
    if counts.empty:
        return pd.DataFrame()  # no events: no event columns
    parts = []
    for k, when in enumerate(instants):
        mine = counts[["user_id", *(c for c in counts.columns if c.endswith(f"@{k}"))]]
        mine = mine.rename(columns=lambda c: c.rsplit("@", 1)[0])
        mine = mine[mine["n_sessions"] > 0].copy()
        for share, col in shares.items():
            mine[share] = mine.pop(col) / mine["_events"]
        parts.append(mine.drop(columns="_events").assign(as_of=when))
    out = pd.concat(parts, ignore_index=True)
    return out[["as_of", *(c for c in out.columns if c != "as_of")]]


def _email_features(email: ibis.Table) -> pd.DataFrame:
    rates = email.group_by("user_id").aggregate(
        emails_received=email.count(),
        email_open_rate=email.opened.cast("float64").mean(),
        email_click_rate=email.clicked.cast("float64").mean(),
    )
    return _by_user(rates)


def customer_features(
    lines: ibis.Table,
    as_of: str | pd.Timestamp,
    users: ibis.Table | None = None,
    event_counts: pd.DataFrame | None = None,
    email: ibis.Table | None = None,
    campaigns: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer who bought at or before ``as_of``; nothing later is read.

    The columns of :func:`tailor.customer_features.customer_features`: recency, frequency,
    monetary, intervals, basket size, country, tenure; event, e-mail and campaign rates
    where those sources exist (the event columns from ``event_counts``:
    :func:`event_counts_at` of the events at ``as_of`` and other instants); user attributes
    where a users table exists.
    """
    as_of = pd.Timestamp(as_of)
    at = be.ts_literal(as_of)
    past = lines.filter(lines.ts <= at)
    out = _purchase_features(past, as_of)
    buyers = past.select("user_id").distinct()
    if event_counts is not None and len(event_counts.columns):
        out = out.join(buyers_events(event_counts, as_of, out.index))
    if email is not None and be.count(email):
        em = email.filter(email.sent_ts <= at).semi_join(buyers, "user_id")
        out = out.join(_email_features(em))
    if campaigns is not None and not campaigns.empty:
        mine = campaigns[campaigns["user_id"].isin(out.index)]
        out = out.join(campaign_features(mine, as_of))
        out["campaigns_received"] = out["campaigns_received"].fillna(0)
    if users is not None and be.count(users):
        demo = users.drop(be.ROW).to_pandas().set_index("user_id")
        cols = [c for c in ("gender", "location", "income", "household_size") if c in demo]
        out = out.join(demo[cols])
        if "age" in demo:
            out = out.join(age_columns(demo["age"]))
        if "signup_ts" in demo:
            signup = demo["signup_ts"].astype("datetime64[ns]")
            signup = signup.where(signup <= as_of)
            out["days_since_signup"] = (as_of - signup.reindex(out.index)) / DAY
    count_cols = [c for c in out.columns if c.startswith("n_") or c.endswith("_sessions")]
    out[count_cols] = out[count_cols].fillna(0).astype(np.int64)
    out.insert(0, "as_of", as_of)
    return out.rename_axis("user_id").reset_index()
