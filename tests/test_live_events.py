"""Archived live events joining the data contract (tailor.live_events) on tiny frames."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor.live_events import merge_live_events
from tailor.schemas import conform_table


def _tx() -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "user_id": ["a", "b", "a"],
            "item_id": ["X", "X", "Y"],
            "quantity": [1, 2, 1],
            "unit_price": [2.0, 4.0, 10.0],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "country": ["UK", "FR", "DE"],
        }
    )
    return conform_table(raw, "transactions", {})


def _live() -> pd.DataFrame:
    ts = pd.to_datetime(
        ["2024-02-01", "2024-02-01", "2024-02-02", "2024-02-03", "2024-03-01"], utc=True
    )
    return pd.DataFrame(
        {
            "event_id": ["e1", "e1", "e2", "e3", "e4"],  # e1 archived twice (a crash)
            "user_id": ["a", "a", "b", "a", "a"],
            "session_id": [None, None, "s9", None, None],
            "ts": ts,
            "event_type": ["purchase", "purchase", "view", "purchase", "purchase"],
            "item_id": ["X", "X", "Y", "NEVER-SOLD", "Y"],
            "duration_s": [None] * 5,
            "request_id": [None] * 5,
            "received": ts,
        }
    )


def test_live_purchases_become_transaction_lines_once() -> None:
    events = conform_table(pd.DataFrame(), "events", {}, optional=True)
    tx, ev = merge_live_events(_tx(), events if events is not None else pd.DataFrame(), _live())
    live = tx[tx["order_id"].str.startswith("live:")].sort_values("ts")
    # e1 once; e3's item was never priced; e4 purchase of Y
    assert live["order_id"].tolist() == ["live:e1", "live:e4"]
    assert live["unit_price"].tolist() == [3.0, 10.0]  # the item's median price
    assert live["country"].tolist() == ["DE", "DE"]  # the buyer's latest country
    assert live["quantity"].tolist() == [1.0, 1.0]
    assert len(ev) == 4  # every distinct event, views too
    assert set(ev["session_id"]) == {"live:a", "s9"}
    assert ev["ts"].dt.tz is None


def test_data_end_keeps_later_live_events_out() -> None:
    tx, ev = merge_live_events(_tx(), pd.DataFrame(), _live(), data_end="2024-02-15")
    assert "live:e4" not in set(tx["order_id"])
    assert ev["ts"].max() <= pd.Timestamp("2024-02-15")


def test_no_archive_changes_nothing() -> None:
    tx = _tx()
    out, ev = merge_live_events(tx, pd.DataFrame(), pd.DataFrame())
    assert out is tx and ev.empty


def test_an_archive_without_event_ids_is_refused_naming_the_column() -> None:
    with pytest.raises(ValueError, match=r"raw_live_events.*event_id"):
        merge_live_events(_tx(), pd.DataFrame(), _live().drop(columns="event_id"))


def test_live_lines_are_point_in_time() -> None:
    """A later transaction (a wild price, a move abroad) and a later redelivery of an event id
    change nothing about an earlier live purchase: what a cut-off between them trains on."""
    later = pd.DataFrame(
        {
            "order_id": ["o9"],
            "user_id": ["a"],
            "item_id": ["X"],
            "quantity": [1],
            "unit_price": [100.0],
            "ts": pd.to_datetime(["2024-02-15"]),
            "country": ["US"],
        }
    )
    tx = pd.concat([_tx(), conform_table(later, "transactions", {})], ignore_index=True)
    live = _live()
    again = live.iloc[[0]].assign(ts=pd.Timestamp("2024-03-05", tz="UTC"), item_id="Y")
    live = pd.concat([again, live], ignore_index=True)  # the later copy comes first
    events = conform_table(pd.DataFrame(), "events", {}, optional=True)
    out, _ = merge_live_events(tx, events if events is not None else pd.DataFrame(), live)
    lines = out[out["order_id"].str.startswith("live:")].set_index("order_id")
    # e1 (2024-02-01): X's median of 2 and 4, country DE, item X: as without the later rows
    assert lines.loc["live:e1", ["item_id", "unit_price", "country"]].tolist() == ["X", 3.0, "DE"]
    # e4 (2024-03-01) comes after the move: priced and placed as of then
    assert lines.loc["live:e4", ["unit_price", "country"]].tolist() == [10.0, "US"]
