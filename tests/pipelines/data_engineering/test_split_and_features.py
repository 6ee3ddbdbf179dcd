"""The time split and point-in-time features: nothing after a cutoff leaks in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_optional_source_features_by_hand_and_point_in_time() -> None:
    ts = pd.to_datetime
    lines = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "user_id": ["u", "u", "w"],
            "item_id": ["A", "B", "A"],
            "quantity": [1.0, 1.0, 1.0],
            "unit_price": [1.0, 1.0, 1.0],
            "ts": ts(["2011-01-01", "2011-01-10", "2011-01-03"]),
            "country": ["UK"] * 3,
        }
    )
    events = pd.DataFrame(
        [
            ("u", "s1", "2011-01-01 10:00", "view", "app", "mobile"),
            ("u", "s1", "2011-01-01 10:01", "add_to_cart", "app", "mobile"),
            ("u", "s1", "2011-01-01 10:02", "purchase", "app", "mobile"),
            ("u", "s2", "2011-01-05 10:00", "view", "web", "desktop"),
            ("u", "s2", "2011-01-05 10:01", "add_to_cart", "web", "desktop"),  # abandoned
            ("u", "s3", "2011-01-06 10:00", "search", "web", "desktop"),
            ("u", "s4", "2011-03-01 10:00", "add_to_cart", "app", "mobile"),  # after as_of
        ],
        columns=["user_id", "session_id", "ts", "event_type", "channel", "device"],
    ).assign(ts=lambda d: ts(d["ts"]))
    email = pd.DataFrame(
        {
            "user_id": ["u"] * 4,
            "sent_ts": ts(["2011-01-02", "2011-01-16", "2011-01-30", "2011-02-13"]),
            "opened": [True, True, False, True],
            "clicked": [True, False, False, True],
        }
    )
    users = pd.DataFrame(
        {
            "user_id": ["u", "w", "v"],
            "signup_ts": ts(["2010-12-01", "2011-01-02", "2010-01-01"]),
            "age": [30.0, 50.0, 40.0],
            "gender": ["female", "male", "other"],
            "location": ["London", "Leeds", "York"],
        }
    )
    f = customer_features(lines, "2011-02-01", users, events, email).set_index("user_id")
    assert sorted(f.index) == ["u", "w"]  # v never bought
    u, w = f.loc["u"], f.loc["w"]
    assert (u["n_view"], u["n_add_to_cart"], u["n_search"], u["n_purchase"]) == (2, 2, 1, 1)
    assert u["n_sessions"] == 3 and u["cart_abandon_sessions"] == 1  # s4 is later
    assert u["app_share"] == 0.5 and u["mobile_share"] == 0.5
    assert u["emails_received"] == 3  # the 13 Feb send is later
    assert u["email_open_rate"] == pytest.approx(2 / 3)
    assert u["email_click_rate"] == pytest.approx(1 / 3)
    assert u["days_since_signup"] == 62 and u["age"] == 30 and u["location"] == "London"
    # a buyer without events or email: zero counts, unknown rates
    assert w["n_sessions"] == 0 and w["n_view"] == 0 and w["cart_abandon_sessions"] == 0
    assert np.isnan(w["app_share"]) and np.isnan(w["email_open_rate"])
