"""Next-purchase snapshots and model, and replenishment candidates, on hand-made lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.forecasting.next_purchase import NextPurchaseModel, snapshot
from tailor.forecasting.replenishment import replenishment_candidates, replenishment_hit_rate

T0 = pd.Timestamp("2011-01-01")


def lines_from(purchases: dict[str, list[int]], item: str = "A") -> pd.DataFrame:
    rows = [
        {"user_id": u, "item_id": item, "order_id": f"{u}-{d}", "ts": T0 + pd.Timedelta(days=d),
         "quantity": 1, "unit_price": 2.0, "country": "UK"}
        for u, days in purchases.items()
        for d in days
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_snapshot_censors_instead_of_dropping() -> None:
    lines = lines_from({"a": [0, 10, 20, 35], "b": [0, 5, 12], "c": [0, 40]})
    as_of, until = T0 + pd.Timedelta(days=25), T0 + pd.Timedelta(days=45)
    snap = snapshot(lines, as_of, until, min_purchase_days=3).set_index("user_id")
    assert sorted(snap.index) == ["a", "b"]  # c has 1 purchase day before the as-of date
    assert snap.loc["a", "event"] and snap.loc["a", "days"] == pytest.approx(10)
    assert not snap.loc["b", "event"] and snap.loc["b", "days"] == pytest.approx(20)  # censored
    assert snap.loc["b", "recency_days"] == pytest.approx(13)


def test_model_separates_cycles_and_predicts_non_negative_remaining_days() -> None:
    rng = np.random.default_rng(1)
    purchases = {}
    for i in range(120):
        cycle = 10 if i % 2 else 40
        gaps = rng.gamma(8, cycle / 8, 30)
        purchases[f"u{i}"] = sorted({int(x) for x in np.cumsum(gaps) if x < 400})
    lines = lines_from(purchases)
    train = pd.concat(
        [snapshot(lines, T0 + pd.Timedelta(days=d), T0 + pd.Timedelta(days=330), 3)
         for d in (210, 240, 270, 300)],
        ignore_index=True,
    )  # fmt: skip
    model = NextPurchaseModel.fit(train, "loglogistic", 0.01, 365)
    now = snapshot(lines, T0 + pd.Timedelta(days=330), None, 3)
    pred = model.predict(now, 30)
    fast = pred["user_id"].str[1:].astype(int) % 2 == 1
    # one shared shape parameter for a mix of two very regular populations: the fast cycle
    # is recovered closely, the slow one only in order of magnitude (see docs/forecasting.md)
    fast_interval = pred.loc[fast, "interval_days"].median()
    slow_interval = pred.loc[~fast, "interval_days"].median()
    assert 7 <= fast_interval <= 15
    assert slow_interval >= 2.5 * fast_interval
    assert (pred["expected_days"] >= 0).all()
    assert pred.loc[fast, "p_buy_within"].mean() > pred.loc[~fast, "p_buy_within"].mean()


def test_too_few_customers_is_a_clear_error() -> None:
    lines = lines_from({"a": [0, 10, 20]})
    train = snapshot(lines, T0 + pd.Timedelta(days=25), T0 + pd.Timedelta(days=45), 3)
    with pytest.raises(ValueError, match="too few"):
        NextPurchaseModel.fit(train, "loglogistic", 0.01, 365)


def test_replenishment_due_soon_by_item_interval() -> None:
    lines = pd.concat(
        [
            lines_from({"a": [0, 10, 20]}, item="A"),  # interval 10, due day 30
            lines_from({"a": [0, 50, 100]}, item="B"),  # interval 50, due day 150
            lines_from({"a": [0, 3]}, item="C"),  # only 2 days: not a repeat item
        ]
    )
    as_of = T0 + pd.Timedelta(days=25)
    out = replenishment_candidates(
        lines, as_of, min_purchase_days=3, horizon_days=30, overdue_days=7
    )
    assert out["item_id"].tolist() == ["A"]
    row = out.iloc[0]
    assert row["interval_days"] == 10 and row["due_date"] == T0 + pd.Timedelta(days=30)
    assert row["score"] == pytest.approx(np.exp(-5 / 10))  # 5 days before due, perfectly regular
    future = lines_from({"a": [29]}, item="A")
    assert replenishment_hit_rate(out, future, 10, as_of) == 1.0
    assert replenishment_hit_rate(out, future, 3, as_of) == 0.0
