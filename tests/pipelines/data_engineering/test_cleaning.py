"""Each cleaning rule on hand-made frames, with exact expected counts."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor import cleaning


def lines(rows: list[tuple]) -> pd.DataFrame:
    cols = ["order_id", "user_id", "item_id", "quantity", "unit_price", "ts", "country"]
    df = pd.DataFrame(rows, columns=cols)
    df["ts"] = pd.to_datetime(df["ts"])
    return df


def test_exact_duplicates_dropped_but_near_duplicates_kept() -> None:
    df = lines(
        [
            ("1", "u1", "A", 2.0, 1.0, "2011-01-01 10:00", "UK"),
            ("1", "u1", "A", 2.0, 1.0, "2011-01-01 10:00", "UK"),
            ("1", "u1", "A", 3.0, 1.0, "2011-01-01 10:00", "UK"),
        ]
    )
    kept, n = cleaning.drop_exact_duplicates(df)
    assert n == 1
    assert sorted(kept["quantity"]) == [2.0, 3.0]


def test_cancellation_removes_exactly_matching_latest_earlier_purchase() -> None:
    df = lines(
        [
            ("1", "u1", "A", 5.0, 1.0, "2011-01-01", "UK"),  # older identical purchase stays
            ("2", "u1", "A", 5.0, 1.0, "2011-01-05", "UK"),  # cancelled
            ("3", "u2", "A", 5.0, 1.0, "2011-01-05", "UK"),  # other customer stays
            ("4", "u1", "A", 5.0, 1.0, "2011-01-09", "UK"),  # later than the cancellation
            ("C9", "u1", "A", -5.0, 1.0, "2011-01-06", "UK"),
        ]
    )
    kept, stats = cleaning.net_cancellations(df, "C")
    assert sorted(kept["order_id"]) == ["1", "3", "4"]
    assert stats["cancellation_lines"] == 1
    assert stats["purchase_lines_cancelled_exactly"] == 1
    assert stats["cancellation_units_unmatched"] == 0


def test_partial_cancellation_nets_quantity_and_counts_unmatched_units() -> None:
    df = lines(
        [
            ("1", "u1", "A", 10.0, 1.0, "2011-01-01", "UK"),
            ("2", "u1", "A", 4.0, 1.0, "2011-01-02", "UK"),
            ("C8", "u1", "A", -6.0, 1.0, "2011-01-03", "UK"),  # takes 4 from #2, 2 from #1
            ("C9", "u1", "B", -3.0, 1.0, "2011-01-03", "UK"),  # B never bought: unmatched
        ]
    )
    kept, stats = cleaning.net_cancellations(df, "C")
    assert kept[["order_id", "quantity"]].values.tolist() == [["1", 8.0]]
    assert stats["purchase_lines_cancelled_by_partial_netting"] == 1
    assert stats["purchase_lines_cancelled_partly"] == 1
    assert stats["cancellation_units_unmatched"] == 3


def test_cancellation_never_matches_a_later_purchase() -> None:
    df = lines(
        [
            ("C1", "u1", "A", -2.0, 1.0, "2011-01-01", "UK"),
            ("2", "u1", "A", 2.0, 1.0, "2011-01-02", "UK"),
        ]
    )
    kept, stats = cleaning.net_cancellations(df, "C")
    assert kept["order_id"].tolist() == ["2"]
    assert stats["cancellation_units_unmatched"] == 2


def test_non_positive_quantity_and_price() -> None:
    df = lines(
        [
            ("1", "u1", "A", 0.0, 1.0, "2011-01-01", "UK"),
            ("2", "u1", "A", -1.0, 1.0, "2011-01-01", "UK"),
            ("3", "u1", "A", 1.0, 0.0, "2011-01-01", "UK"),
            ("4", "u1", "A", 1.0, 1.0, "2011-01-01", "UK"),
        ]
    )
    kept, counts = cleaning.drop_non_positive(df)
    assert counts == {"non_positive_quantity": 2, "non_positive_price": 1}
    assert kept["order_id"].tolist() == ["4"]


def test_non_product_codes_match_whole_id_any_case() -> None:
    df = lines(
        [
            ("1", "u1", "POST", 1.0, 18.0, "2011-01-01", "UK"),
            ("2", "u1", "m", 1.0, 2.5, "2011-01-01", "UK"),
            ("3", "u1", "gift_0001_20", 1.0, 16.0, "2011-01-01", "UK"),
            ("4", "u1", "POSTER1", 1.0, 3.0, "2011-01-01", "UK"),  # a product, not postage
            ("5", "u1", "85123A", 1.0, 3.0, "2011-01-01", "UK"),
        ]
    )
    kept, n = cleaning.drop_non_product(df, ["POST", "M", r"gift_\d+_\d+"])
    assert n == 3
    assert kept["item_id"].tolist() == ["POSTER1", "85123A"]


def test_outliers_quantity_and_price_rules() -> None:
    rows = [
        (str(i), "u1", "A", float(q), 2.0, "2011-01-01", "UK")
        for i, q in enumerate([1, 2, 3, 4, 6, 12] * 5)
    ]
    rows.append(("big", "u1", "A", 100000.0, 2.0, "2011-01-01", "UK"))
    rows.append(("typo", "u1", "A", 2.0, 250.0, "2011-01-01", "UK"))
    kept, counts = cleaning.drop_outliers(
        lines(rows), max_quantity_robust_z=6.0, max_price_ratio=10.0
    )
    assert counts == {"outlier_quantity": 1, "outlier_price": 1}
    assert {"big", "typo"}.isdisjoint(kept["order_id"])
    assert len(kept) == 30


def test_drop_users() -> None:
    df = lines(
        [
            ("1", "u1", "A", 1.0, 1.0, "2011-01-01", "UK"),
            ("2", "u2", "A", 1.0, 1.0, "2011-01-01", "UK"),
            ("3", None, "A", 1.0, 1.0, "2011-01-01", "UK"),
        ]
    )
    kept, n = cleaning.drop_users(df, ["u2"])
    assert n == 1
    assert kept["order_id"].tolist() == ["1", "3"]


@pytest.mark.parametrize("prefix", ["C", "X"])
def test_cancellation_prefix_is_a_parameter(prefix: str) -> None:
    df = lines(
        [
            ("1", "u1", "A", 1.0, 1.0, "2011-01-01", "UK"),
            (f"{prefix}1", "u1", "A", -1.0, 1.0, "2011-01-02", "UK"),
        ]
    )
    kept, stats = cleaning.net_cancellations(df, prefix)
    assert kept.empty and stats["cancellation_lines"] == 1


def test_orders_whose_id_starts_with_the_prefix_are_purchases_unless_negative() -> None:
    # another shop's ordinary order ids ("C-100") start with the same letter
    df = lines(
        [
            ("C-100", "u1", "A", 2.0, 1.0, "2011-01-01", "UK"),
            ("C-101", "u1", "B", 1.0, 1.0, "2011-01-02", "UK"),
            ("C-102", "u1", "B", -1.0, 1.0, "2011-01-03", "UK"),
        ]
    )
    kept, stats = cleaning.net_cancellations(df, "C")
    assert kept["order_id"].tolist() == ["C-100"] and stats["cancellation_lines"] == 1
    kept, stats = cleaning.net_cancellations(df, None)
    assert len(kept) == 3 and stats["cancellation_lines"] == 0


def test_cancellation_never_nets_against_a_negative_adjustment_line() -> None:
    # A non-cancellation line with negative quantity (stock adjustment, 'damaged') is not a
    # purchase: netting against it would *add* units to the cancellation and wipe out more
    # real purchases. It is left for the non-positive rule.
    df = lines(
        [
            ("1", None, "A", 3.0, 1.0, "2011-01-01", "UK"),
            ("2", None, "A", -5.0, 0.0, "2011-01-02", "UK"),  # adjustment, not a purchase
            ("C9", None, "A", -2.0, 1.0, "2011-01-03", "UK"),
        ]
    )
    kept, stats = cleaning.net_cancellations(df, "C")
    assert kept[["order_id", "quantity"]].values.tolist() == [["1", 1.0], ["2", -5.0]]
    assert stats["purchase_lines_cancelled_partly"] == 1
    assert stats["purchase_lines_cancelled_by_partial_netting"] == 0
    assert stats["cancellation_units_unmatched"] == 0
