"""Point-in-time customer features at several instants: the line, event and e-mail scans
as Ibis aggregations (events and e-mail scanned once for every instant).

Each snapshot counts only rows at or before its instant. The scans reduce to one row per
customer in the backend; those small tables are assembled in pandas with the column order
and types of :func:`tailor.customer_features.customer_features` (which the parity tests
compare).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from tailor.customer_features import finish_features
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


def periods(ts: ibis.TimestampValue, instants: list[pd.Timestamp]) -> ibis.IntegerValue:
    """How many of the (sorted) instants lie before ``ts``: a row is in the snapshot at
    instant k when this is <= k (null time: in none). One scan then serves every snapshot,
    each aggregate filtered by it."""
    period = ibis.literal(0, "int8")
    for when in instants:
        period = period + (ts > be.ts_literal(when)).cast("int8")
    return period


def _at(frame: pd.DataFrame, k: int, present: str) -> pd.DataFrame:
    """Snapshot k of a frame of ``name@k`` columns: its columns without the suffix, the rows
    where ``present`` is positive."""
    mine = frame[[c for c in frame.columns if c.endswith(f"@{k}")]]
    mine = mine.rename(columns=lambda c: c.rsplit("@", 1)[0])
    return mine[mine[present] > 0].copy()


def _purchase_features(lines: ibis.Table, as_of: pd.Timestamp) -> pd.DataFrame:
    """The purchase columns at ``as_of`` (one query per instant: the distinct counts and
    the per-day window filtered for several instants at once measured slower)."""
    lines = lines.filter(lines.ts <= be.ts_literal(as_of))
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


def _event_counts_at(events: ibis.Table, instants: list[pd.Timestamp]) -> list[pd.DataFrame]:
    """Every user's event counts at each instant, in one scan: per session, then summed per
    user (the shares as whole counts over events). A session counts at an instant if one of
    its events does."""
    ks = range(len(instants))
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
    ev = events.select("user_id", "session_id", _period=periods(events.ts, instants), **flags)
    per_session = {}
    for k in ks:
        within = ev._period <= k
        per_session |= {f"{c}@{k}": ev.count(where=within & ev[c]) for c in flags}
        per_session[f"_events@{k}"] = ev.count(where=within)
    sessions = ev.group_by(["user_id", "session_id"]).aggregate(**per_session)
    per_user = {c: sessions[c].sum() for c in per_session}
    for k in ks:
        abandoned = (sessions[f"n_add_to_cart@{k}"] > 0) & (sessions[f"n_purchase@{k}"] == 0)
        per_user[f"n_sessions@{k}"] = sessions.count(where=sessions[f"_events@{k}"] > 0)
        per_user[f"cart_abandon_sessions@{k}"] = sessions.count(where=abandoned)
    counts = _by_user(sessions.group_by("user_id").aggregate(**per_user))
    out = []
    for k in ks:
        mine = _at(counts, k, "n_sessions")
        for share, col in shares.items():
            mine[share] = mine.pop(col) / mine["_events"]
        out.append(mine.drop(columns="_events"))
    return out


def _buyers_events(counts: pd.DataFrame, buyers: pd.Index) -> pd.DataFrame:
    """The event columns of ``buyers``: counts per event type (the types these buyers have,
    in name order, then the others, as a crosstab of their events has them), sessions,
    abandoned carts, the app and mobile shares."""
    mine = counts[counts.index.isin(buyers)]
    present = sorted(t for t in EVENT_TYPES if mine[f"n_{t}"].sum() > 0)
    order = [f"n_{t}" for t in present] + [f"n_{t}" for t in EVENT_TYPES if t not in present]
    shares = [c for c in ("app_share", "mobile_share") if c in mine]
    return mine[[*order, "n_sessions", "cart_abandon_sessions", *shares]]


def _email_features_at(email: ibis.Table, instants: list[pd.Timestamp]) -> list[pd.DataFrame]:
    """Every user's e-mail rates at each instant, in one scan."""
    period = periods(email.sent_ts, instants)
    ks = range(len(instants))
    rates = email.group_by("user_id").aggregate(
        **{f"emails_received@{k}": email.count(where=period <= k) for k in ks},
        **{
            f"email_{rate}_rate@{k}": email[col].cast("float64").mean(where=period <= k)
            for rate, col in (("open", "opened"), ("click", "clicked"))
            for k in ks
        },
    )
    frame = _by_user(rates)
    cols = ["emails_received", "email_open_rate", "email_click_rate"]
    return [_at(frame, k, "emails_received")[cols] for k in ks]


def customer_features_at(
    lines: ibis.Table,
    instants: list[pd.Timestamp],
    users: ibis.Table | None = None,
    events: ibis.Table | None = None,
    email: ibis.Table | None = None,
    campaigns: pd.DataFrame | None = None,
) -> list[pd.DataFrame]:
    """:func:`tailor.customer_features.customer_features` at each instant (its columns,
    order and types, which the parity tests compare): one row per customer who bought at or
    before it, from nothing later. Events and e-mail are each scanned once for all instants
    (every aggregate filtered by :func:`periods`), the lines once per instant; the small
    per-user results are assembled in pandas."""
    instants = [pd.Timestamp(t) for t in instants]
    order = sorted(set(instants))
    purchase = {as_of: _purchase_features(lines, as_of) for as_of in order}
    events_at = email_at = None
    if events is not None and be.count(events):
        events_at = dict(zip(order, _event_counts_at(events, order), strict=True))
    if email is not None and be.count(email):
        email_at = dict(zip(order, _email_features_at(email, order), strict=True))
    demo = None
    if users is not None and be.count(users):
        demo = users.drop(be.ROW).to_pandas().set_index("user_id")
    out = []
    for as_of in instants:
        frame = purchase[as_of].copy()
        if events_at is not None:
            frame = frame.join(_buyers_events(events_at[as_of], frame.index))
        if email_at is not None:
            frame = frame.join(email_at[as_of])
        out.append(finish_features(frame, as_of, demo, campaigns))
    return out
