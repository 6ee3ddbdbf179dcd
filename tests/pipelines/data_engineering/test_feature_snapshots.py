"""The Ibis feature snapshots scan events and e-mail once for several instants; each
snapshot must still equal the pandas features computed from the data up to its instant.

The world is made of the cases where one scan for several instants could read the future:
an order with lines on both sides of an instant, a customer whose only country is known
after an instant, a modal country that changes, e-mail and events only after an instant,
a customer with one purchase day (no interval), events of someone who never buys, and
instants given in any order or twice."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor.customer_features import customer_features
from tailor.tables import backend
from tailor.tables.features import customer_features_at

INSTANTS = [pd.Timestamp("2024-01-10"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")]


def _lines() -> pd.DataFrame:
    rows = [
        # order o1 straddles the first instant: one line before, one after
        ("o1", "a", "x", "2024-01-09 10:00", 2.0, 1.5, "UK"),
        ("o1", "a", "y", "2024-01-11 09:00", 1.0, 4.0, "UK"),
        ("o2", "a", "x", "2024-01-20 12:00", 3.0, 1.5, "FR"),
        ("o3", "a", "z", "2024-02-15 12:00", 1.0, 9.0, "FR"),
        ("o4", "a", "z", "2024-02-16 12:00", 1.0, 9.0, "FR"),
        # b: no country before the second instant, a country after it
        ("o5", "b", "x", "2024-01-05 08:00", 1.0, 1.5, None),
        ("o6", "b", "y", "2024-01-25 08:00", 2.0, 4.0, None),
        ("o7", "b", "y", "2024-02-20 08:00", 2.0, 4.0, "DE"),
        # c: one purchase day only
        ("o8", "c", "x", "2024-01-30 08:00", 5.0, 1.5, "UK"),
        ("o8", "c", "z", "2024-01-30 08:05", 1.0, 9.0, "UK"),
    ]
    cols = ["order_id", "user_id", "item_id", "ts", "quantity", "unit_price", "country"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(ts=pd.to_datetime(frame["ts"]))


def _events() -> pd.DataFrame:
    rows = [
        ("a", "s1", "2024-01-05 10:00", "view", "app"),
        ("a", "s1", "2024-01-05 10:01", "add_to_cart", "app"),
        ("a", "s2", "2024-01-15 10:00", "purchase", "web"),
        ("b", "s3", "2024-02-10 10:00", "search", None),  # b's events all after 1 Feb
        ("c", "s4", "2024-01-30 07:00", "view", "web"),
        ("c", "s4", "2024-02-05 07:00", "add_to_cart", "web"),  # same session, later
        ("nobody", "s5", "2024-01-03 07:00", "search", "app"),  # never buys
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "session_id", "ts", "event_type", "channel"])
    device = ["mobile", "desktop", "mobile", "mobile", "desktop", None, "mobile"]
    return frame.assign(ts=pd.to_datetime(frame["ts"]), device=device)


def _email() -> pd.DataFrame:
    rows = [
        ("a", "2024-01-02", True, False),
        ("a", "2024-01-25", False, False),
        ("b", "2024-02-20", True, True),  # only after the second instant
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "sent_ts", "opened", "clicked"])
    return frame.assign(sent_ts=pd.to_datetime(frame["sent_ts"]))


@pytest.mark.parametrize("with_sources", [False, True], ids=["lines only", "events and email"])
def test_each_snapshot_equals_the_features_of_the_data_up_to_it(with_sources: bool) -> None:
    lines, events, email = _lines(), _events(), _email()
    sources = {"events": events, "email": email} if with_sources else {}
    backend.use(None)
    got = customer_features_at(
        backend.table(lines),
        INSTANTS,
        events=backend.table(events) if with_sources else None,
        email=backend.table(email) if with_sources else None,
    )
    for as_of, snapshot in zip(INSTANTS, got, strict=True):
        expected = customer_features(lines, as_of, **sources)
        pd.testing.assert_frame_equal(snapshot, expected)
    # the instants in any order, one of them twice: each snapshot is still its own
    shuffled = [INSTANTS[2], INSTANTS[0], INSTANTS[2]]
    again = customer_features_at(backend.table(lines), shuffled, events=backend.table(events))
    for as_of, snapshot in zip(shuffled, again, strict=True):
        expected = customer_features(lines, as_of, events=events)
        pd.testing.assert_frame_equal(snapshot, expected)
    first, second, third = (g.set_index("user_id") for g in got)
    assert first.loc["a", "frequency"] == 1 and first.loc["a", "basket_size"] == 1
    assert second.loc["b", "country"] == "Unknown" and third.loc["b", "country"] == "DE"
    assert second.loc["a", "country"] == "UK" and third.loc["a", "country"] == "FR"


def test_no_customer_lines_give_empty_snapshots_as_pandas_does() -> None:
    """Every line anonymous or opted out: no customer features, but no failure either (the
    demand forecast still runs on such a shop)."""
    from tailor.pipelines.data_engineering import nodes, table_nodes

    backend.use(None)
    none = _lines().iloc[:0]
    split = {"cutoff": "2024-02-01", "validation_days": 20}
    got = table_nodes.customer_feature_snapshots(backend.table(none), None, None, None, None, split)
    expected = nodes.customer_feature_snapshots(none, None, None, None, None, split)
    for g, e in zip(got, expected, strict=True):
        assert g.empty and list(g.columns) == list(e.columns)
