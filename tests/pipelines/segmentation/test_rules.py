"""Rule segments: the shipped YAML rules on a hand-made frame, priority conflicts included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.segmentation.rules import assign_rule_segments, describe_rules

NAN = np.nan
# user, monetary, frequency, recency, tenure, interval_median, n_sessions, abandoned, expected
ROWS = [
    # top spender, frequent, recent; also a cart abandoner: the first rule wins
    ("a", 5000, 10, 10, 300, 20, 50, 20, "High-Value Loyalists"),
    # top spender who is also new (first order 30 days ago)
    ("b", 4000, 10, 30, 30, 3, 12, 0, "High-Value Loyalists"),
    # new and a one-time buyer: New Customers comes first
    ("c", 100, 1, 10, 10, NAN, 3, 0, "New Customers"),
    # browses a lot, rarely buys; also abandons carts and is overdue
    ("d", 100, 2, 100, 200, 20, 40, 15, "Browsers-not-Buyers"),
    # abandons carts and is overdue: Cart Abandoners comes first
    ("e", 100, 3, 100, 200, 20, 10, 4, "Cart Abandoners"),
    # repeat buyer at 70 days against a 30-day habit
    ("f", 100, 3, 70, 200, 30, 10, 1, "At Risk / Lapsing"),
    # one order, 200 days ago: Hibernating comes before One-Time Buyers
    ("g", 100, 1, 200, 200, NAN, 2, 0, "Hibernating"),
    # one order 60 days ago: no longer new
    ("h", 100, 1, 60, 60, NAN, 2, 0, "One-Time Buyers"),
    # a steady repeat buyer: no rule
    ("i", 100, 4, 20, 200, 30, 10, 1, "Other"),
    # no sessions at all (0/0 ratios must not match), overdue but past 180 days
    ("j", 100, 6, 200, 300, 20, 0, 0, "Hibernating"),
]


def frame() -> pd.DataFrame:
    cols = ["user_id", "monetary", "frequency", "recency_days", "tenure_days", "interval_median"]
    cols += ["n_sessions", "cart_abandon_sessions", "expected"]
    return pd.DataFrame(ROWS, columns=cols)


def test_each_customer_gets_the_first_matching_rule(seg_params: dict[str, Any]) -> None:
    df = frame()
    rules = seg_params["rules"]
    got = assign_rule_segments(df.drop(columns="expected"), rules["segments"], rules["fallback"])
    assert got.tolist() == df["expected"].tolist()


def test_event_rules_are_skipped_without_event_features(seg_params: dict[str, Any]) -> None:
    df = frame().drop(columns=["n_sessions", "cart_abandon_sessions"])
    rules = seg_params["rules"]
    got = assign_rule_segments(df.drop(columns="expected"), rules["segments"], rules["fallback"])
    expected = df["expected"].replace(
        {"Browsers-not-Buyers": "At Risk / Lapsing", "Cart Abandoners": "At Risk / Lapsing"}
    )
    assert got.tolist() == expected.tolist()
    assert not set(got) & {"Browsers-not-Buyers", "Cart Abandoners"}


def test_quantile_threshold_is_taken_on_the_snapshot() -> None:
    df = pd.DataFrame({"monetary": [1.0, 2.0, 3.0, 4.0, 100.0]})
    rules = [{"name": "Top", "description": "", "conditions": [
        {"feature": "monetary", "op": ">=", "quantile": 0.8}]}]  # fmt: skip
    assert assign_rule_segments(df, rules, "Rest").tolist() == ["Rest"] * 4 + ["Top"]


def test_unknown_operator_is_an_error() -> None:
    rules = [{"name": "X", "description": "", "conditions": [
        {"feature": "monetary", "op": "=>", "value": 1}]}]  # fmt: skip
    with pytest.raises(ValueError, match="operator"):
        assign_rule_segments(pd.DataFrame({"monetary": [1.0]}), rules, "Other")


def test_shipped_rules_are_documented(seg_params: dict[str, Any]) -> None:
    rules = seg_params["rules"]
    table = describe_rules(rules["segments"], rules["fallback"])
    assert table["segment"].iloc[-1] == "Other"
    assert table["priority"].tolist() == list(range(1, len(table) + 1))
    required = {"High-Value Loyalists", "New Customers", "At Risk / Lapsing", "Hibernating"}
    required |= {"One-Time Buyers", "Cart Abandoners", "Browsers-not-Buyers"}
    assert required <= set(table["segment"])
    assert all(r["description"].strip() for r in rules["segments"])
