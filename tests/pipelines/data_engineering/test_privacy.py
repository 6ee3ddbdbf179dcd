"""Suppressed users vanish everywhere; opted-out users stay out of everything that trains."""

from __future__ import annotations

import pandas as pd

from tailor.pipelines.data_engineering.nodes import clean_transactions, filter_sources

PARAMS = {
    "cancellation_prefix": "C",
    "non_product_item_ids": ["POST"],
    "max_quantity_robust_z": 6.0,
    "max_price_ratio": 10.0,
}


def test_suppressed_and_opted_out_users() -> None:
    tx = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4"],
            "user_id": ["keep", "forgotten", "optout", None],
            "item_id": ["A", "A", "A", "A"],
            "quantity": [1.0, 1.0, 1.0, 1.0],
            "unit_price": [2.0, 2.0, 2.0, 2.0],
            "ts": pd.to_datetime(["2011-01-01"] * 4),
            "country": ["UK"] * 4,
        }
    )
    users = pd.DataFrame(
        {"user_id": ["keep", "forgotten", "optout"], "consent": [True, True, False]}
    )
    suppression = pd.DataFrame({"user_id": ["forgotten"]})
    events = pd.DataFrame(
        {"user_id": ["keep", "forgotten", "optout"], "ts": pd.to_datetime(["2011-01-01"] * 3)}
    )
    email = events.rename(columns={"ts": "sent_ts"})

    demand, customer, report, metrics = clean_transactions(tx, users, suppression, PARAMS)
    counts = dict(zip(report["step"], report["rows"], strict=True))
    assert counts["suppressed_users"] == 1
    assert counts["opted_out_users"] == 1
    assert counts["missing_customer"] == 1
    assert "forgotten" not in set(demand["user_id"])  # gone from every output
    assert set(demand["order_id"]) == {"1", "3", "4"}  # opted-out and anonymous are still demand
    assert customer["user_id"].tolist() == ["keep"]  # only consenting, identified customers train
    assert metrics["data/suppressed_users"]["value"] == 1.0

    campaigns = pd.DataFrame(
        {"user_id": ["keep", "forgotten", "optout"], "campaign_id": ["c1"] * 3,
         "sent_ts": pd.to_datetime(["2011-01-01"] * 3)}
    )  # fmt: skip
    none = pd.DataFrame()
    u, e, m, c = filter_sources(users, events, email, campaigns, none, none, suppression)
    for table in (u, e, m, c):
        assert table["user_id"].tolist() == ["keep"]
