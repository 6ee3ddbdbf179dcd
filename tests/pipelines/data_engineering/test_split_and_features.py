"""The time split and point-in-time features: nothing after a cutoff leaks in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.customer_features import customer_features
from tailor.splits import split_by_time, validation_cutoff


def interactions(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.uniform(0, 300, n), unit="D")
    return pd.DataFrame(
        {
            "order_id": [f"o{i // 3}" for i in range(n)],
            "user_id": rng.choice(["u1", "u2", "u3", "u4"], n),
            "item_id": rng.choice(list("ABCDEFG"), n),
            "quantity": rng.integers(1, 5, n).astype(float),
            "unit_price": rng.uniform(1, 3, n),
            "ts": ts,
            "country": "UK",
        }
    )


def test_split_has_no_test_row_at_or_before_cutoff() -> None:
    df = interactions()
    df.loc[0, "ts"] = pd.Timestamp("2011-06-01")  # exactly at the cutoff: train
    train, test = split_by_time(df, "2011-06-01")
    assert (test["ts"] > pd.Timestamp("2011-06-01")).all()
    assert (train["ts"] <= pd.Timestamp("2011-06-01")).all()
    assert len(train) + len(test) == len(df)
    assert pd.Timestamp("2011-06-01") in set(train["ts"])


def test_split_end_bounds_the_test_window() -> None:
    _, test = split_by_time(interactions(), "2011-06-01", end="2011-07-01")
    assert test["ts"].max() <= pd.Timestamp("2011-07-01")


def test_validation_split_is_carved_from_train_only() -> None:
    df = interactions()
    train, test = split_by_time(df, "2011-06-01")
    fit, val = split_by_time(train, validation_cutoff("2011-06-01", 30))
    assert val["ts"].max() <= pd.Timestamp("2011-06-01") < test["ts"].min()
    assert fit["ts"].max() <= pd.Timestamp("2011-05-02") < val["ts"].min()


def test_features_ignore_everything_after_as_of() -> None:
    df = interactions()
    as_of = pd.Timestamp("2011-06-01")
    before = customer_features(df, as_of)
    future = df.copy()
    late = future["ts"] > as_of
    future.loc[late, "quantity"] *= 1000  # poison the future
    future.loc[late, "user_id"] = "u_new"
    after = customer_features(future, as_of)
    pd.testing.assert_frame_equal(before, after)
    assert "u_new" not in set(after["user_id"])


def test_rfm_and_interval_values_on_a_hand_made_customer() -> None:
    df = pd.DataFrame(
        {
            "order_id": ["1", "1", "2", "3"],
            "user_id": ["u"] * 4,
            "item_id": ["A", "B", "A", "C"],
            "quantity": [2.0, 1.0, 1.0, 4.0],
            "unit_price": [1.0, 3.0, 1.0, 0.5],
            "ts": pd.to_datetime(["2011-01-01", "2011-01-01", "2011-01-11", "2011-01-31"]),
            "country": ["UK", "UK", "UK", "France"],
        }
    )
    f = customer_features(df, "2011-02-10").iloc[0]
    assert f["frequency"] == 3 and f["purchase_days"] == 3
    assert f["monetary"] == 2 + 3 + 1 + 2
    assert f["recency_days"] == 10 and f["tenure_days"] == 40
    assert f["interval_mean"] == 15 and f["interval_median"] == 15
    assert f["basket_size"] == 4 / 3
    assert f["country"] == "UK"
