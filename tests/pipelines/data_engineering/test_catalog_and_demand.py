"""Item catalog, daily demand and the user-item matrix on hand-made lines."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor.item_catalog import build_catalog
from tailor.pipelines.data_engineering.nodes import daily_demand, user_item_matrix

COLS = ["order_id", "user_id", "item_id", "quantity", "unit_price", "ts", "description"]


def lines(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLS)
    df["ts"] = pd.to_datetime(df["ts"])
    return df


LINES = lines(
    [
        ("1", "u1", "A", 2.0, 2.0, "2011-01-03 09:00", "WHITE HANGING HEART T-LIGHT HOLDER"),
        ("2", "u2", "A", 1.0, 2.0, "2011-01-03 11:00", "WHITE HANGING HEART T-LIGHT HOLDER"),
        ("2", "u2", "B", 4.0, 1.0, "2011-01-03 11:00", "RED RETROSPOT MUG"),
        ("3", None, "A", 5.0, 3.0, "2011-01-03 12:00", "white heart t-light holder?"),
        ("4", "u1", "C", 1.0, 1.5, "2011-01-05 10:00", "BLUE MUG"),
        ("4", "u1", "D", 1.0, 4.0, "2011-01-05 10:00", "PINK SET"),
        ("5", "u1", "A", 1.0, 1.8, "2011-01-05 15:00", "WHITE HANGING HEART T-LIGHT HOLDER"),
    ]
)


def test_catalog_modal_price_description_text_and_derived_category() -> None:
    cat = build_catalog(LINES, None, min_category_items=2, category_stopwords=["set", "pink"])
    a = cat.set_index("item_id").loc["A"]
    assert a["price"] == 2.0  # the modal price: not the mean (2.2), the last or the lowest (1.8)
    assert a["description"] == "WHITE HANGING HEART T-LIGHT HOLDER"  # the modal description
    assert a["text"] == "white hanging heart t light holder"
    assert (a["n_orders"], a["n_buyers"], a["units"]) == (4, 2, 9.0)  # anonymous not a buyer
    # 'mug' names two items: a category; 'holder' names one and 'pink set' has no usable word
    assert cat.set_index("item_id")["category"].to_dict() == {
        "A": "other",
        "B": "mug",
        "C": "mug",
        "D": "other",
    }
    assert cat["item_id"].tolist() == ["A", "B", "C", "D"]


def test_catalog_prefers_a_given_items_table() -> None:
    items = pd.DataFrame(
        {"item_id": ["A", "B"], "description": ["Heart holder", None], "category": ["decor", None]}
    )
    cat = build_catalog(LINES, items, min_category_items=2, category_stopwords=[]).set_index(
        "item_id"
    )
    assert cat.loc["A", "description"] == "Heart holder" and cat.loc["A", "category"] == "decor"
    assert cat.loc["B", "description"] == "RED RETROSPOT MUG"  # missing: from the lines
    assert cat.loc["C", "category"] == "other"  # given categories are not re-derived


def test_daily_demand_fills_closed_days_and_counts_identified_customers() -> None:
    d = daily_demand(LINES).set_index("date")
    assert list(d.index.strftime("%m-%d")) == ["01-03", "01-04", "01-05"]
    assert d["orders"].tolist() == [3, 0, 2]
    assert d["revenue"].tolist() == pytest.approx([4.0 + 2.0 + 4.0 + 15.0, 0.0, 1.5 + 4.0 + 1.8])
    assert d["units"].tolist() == [12.0, 0.0, 3.0]
    assert d["customers"].tolist() == [2, 0, 1]  # the anonymous order is demand, not a customer
    assert d["trading"].tolist() == [True, False, True]


def test_user_item_matrix_one_row_per_pair() -> None:
    m = user_item_matrix(LINES.dropna(subset=["user_id"])).set_index(["user_id", "item_id"])
    assert len(m) == 5
    row = m.loc[("u1", "A")]
    assert row["n_orders"] == 2 and row["quantity"] == 3.0
    assert row["last_ts"] == pd.Timestamp("2011-01-05 15:00")
