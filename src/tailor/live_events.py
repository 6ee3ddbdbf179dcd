"""Live events archived by the service's event log (``tailor.serving.archive``) as training data.

The archive's segments are read as ``raw_live_events``; here they join the shop's own
tables through the same data contract: every live event joins ``events``, and each live
purchase becomes a transaction line (quantity 1, the item's median unit price in the
shop's transactions up to the purchase, the buyer's country as of it), so the next training run's
interactions hold what customers bought through the live service. Repeated ``event_id``s
(an archive that wrote a segment twice after a crash) count once. A purchase of an item
the transactions never priced cannot make a line and is dropped (counted in the log).
Consent and forgetting are applied downstream exactly as for the shop's own rows
(``clean_transactions``, ``filter_sources``).
"""

from __future__ import annotations

import logging

import pandas as pd

from tailor.schemas import conform_table

log = logging.getLogger(__name__)
LIVE_ORDER_PREFIX = "live:"


def live_events_table(live: pd.DataFrame) -> pd.DataFrame | None:
    """The archive's rows as the ``events`` contract (None when there are none)."""
    if live is None or live.empty:
        return None
    if "event_id" not in live:
        raise ValueError("table 'raw_live_events', column 'event_id': required column is missing")
    df = live.copy()
    df["ts"] = pd.to_datetime(df["ts"], utc=True).dt.tz_localize(None)  # naive UTC
    # a repeated id is a redelivery: its first occurrence in time counts, so a later copy
    # (after a cut-off) can never displace what an earlier run trained on
    df = df.sort_values("ts", kind="stable").drop_duplicates("event_id", keep="first")
    # A live event without a session belongs to the user's live session.
    df["session_id"] = df["session_id"].where(df["session_id"].notna(), "live:" + df["user_id"])
    out = conform_table(df, "events", {}, optional=True)
    if out is not None:
        out["event_id"] = df["event_id"].to_numpy()
    return out


def live_purchase_lines(events: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    """Transaction lines of the live purchases in ``events`` (``event_id`` needed)."""
    bought = events[(events["event_type"] == "purchase") & events["item_id"].notna()]
    bought = bought.sort_values("ts", kind="stable")
    # Point in time: the item's median unit price over the transactions up to the purchase,
    # the buyer's country as of it; nothing later (a later price or move never reaches a
    # line that an earlier cut-off trains on).
    tx = transactions.dropna(subset=["ts"]).sort_values("ts", kind="stable")
    price = tx[["item_id", "ts"]].assign(
        unit_price=tx.groupby("item_id")["unit_price"].transform(lambda p: p.expanding().median())
    )
    lines = pd.merge_asof(
        bought[["event_id", "user_id", "item_id", "ts"]], price, on="ts", by="item_id"
    )
    if "country" in tx:
        who = tx.dropna(subset=["user_id", "country"])[["user_id", "ts", "country"]]
        lines = pd.merge_asof(lines, who, on="ts", by="user_id")
    else:
        lines["country"] = None
    lines = pd.DataFrame(
        {
            "order_id": LIVE_ORDER_PREFIX + lines["event_id"].astype(str),
            "user_id": lines["user_id"],
            "item_id": lines["item_id"],
            "quantity": 1.0,
            "unit_price": lines["unit_price"],
            "ts": lines["ts"],
            "country": lines["country"],
        }
    )
    unpriced = lines["unit_price"].isna()
    if unpriced.any():
        log.warning(
            "live purchases: %d of items never sold in transactions dropped", unpriced.sum()
        )
    return lines[~unpriced].reset_index(drop=True)


def merge_live_events(
    transactions: pd.DataFrame,
    events: pd.DataFrame,
    live: pd.DataFrame,
    data_end: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shop's conformed transactions and events with the archived live events added."""
    table = live_events_table(live)
    if table is None:
        return transactions, events
    if data_end is not None:
        table = table[table["ts"] <= pd.Timestamp(data_end)]
    lines = live_purchase_lines(table, transactions)
    log.info("live events: %d events, %d purchase lines", len(table), len(lines))
    tx = pd.concat([transactions, lines.astype({"unit_price": float})], ignore_index=True)
    ev = pd.concat([events, table.drop(columns="event_id")], ignore_index=True)
    return tx, ev
