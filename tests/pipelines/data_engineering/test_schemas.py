"""Schema failures stop the run with a message naming the table, column and problem."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor.schemas import DataContractError, conform_table

MAP = {
    "Invoice": "order_id",
    "Customer": "user_id",
    "Sku": "item_id",
    "Qty": "quantity",
    "Price": "unit_price",
    "When": "ts",
    "Country": "country",
}


def raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Invoice": ["1", "2"], "Customer": [17850.0, None], "Sku": ["A", "B"],
            "Qty": [1, 2], "Price": [1.5, 2.0], "When": ["2011-01-01 10:00", "2011-01-02"],
            "Country": ["UK", "UK"], "Extra": [0, 0],
        }
    )  # fmt: skip


def test_valid_table_is_renamed_and_coerced() -> None:
    out = conform_table(raw(), "transactions", MAP)
    assert list(out.columns) == [
        "order_id",
        "user_id",
        "item_id",
        "quantity",
        "unit_price",
        "ts",
        "country",
    ]
    assert out["user_id"].tolist() == ["17850", None]  # float ids become clean strings
    assert str(out["ts"].dtype) == "datetime64[ns]"
    assert out["quantity"].dtype == float


def test_missing_column_names_table_column_and_raw_name() -> None:
    with pytest.raises(DataContractError) as err:
        conform_table(raw().drop(columns="Price"), "transactions", MAP)
    msg = str(err.value)
    assert "table 'transactions'" in msg and "column 'unit_price'" in msg
    assert "'Price'" in msg and "missing" in msg


def test_wrong_dtype_names_the_column_and_the_bad_value() -> None:
    bad = raw()
    bad["Qty"] = ["1", "five"]
    with pytest.raises(DataContractError) as err:
        conform_table(bad, "transactions", MAP)
    msg = str(err.value)
    assert "column 'quantity'" in msg and "five" in msg and "'Qty'" in msg


def test_unparseable_timestamp_names_the_column() -> None:
    bad = raw()
    bad["When"] = ["2011-01-01", "yesterday"]
    with pytest.raises(DataContractError, match=r"column 'ts'.*yesterday"):
        conform_table(bad, "transactions", MAP)


def test_empty_table_is_refused() -> None:
    with pytest.raises(DataContractError, match=r"table 'transactions'.*empty"):
        conform_table(raw().iloc[:0], "transactions", MAP)


def test_events_with_unknown_event_type_are_refused() -> None:
    events = pd.DataFrame(
        {"user_id": ["u1"], "session_id": ["s"], "ts": ["2011-01-01"], "event_type": ["teleport"],
         "item_id": ["A"]}
    )  # fmt: skip
    with pytest.raises(DataContractError, match=r"table 'events', column 'event_type'.*teleport"):
        conform_table(events, "events")


def test_absent_optional_table_is_none() -> None:
    assert conform_table(pd.DataFrame(), "events", optional=True) is None


def test_boolean_words_are_parsed_and_nonsense_is_named() -> None:
    users = pd.DataFrame({"id": ["a", "b", "c"], "ok": ["True", "false", "0"]})
    out = conform_table(users, "users", {"id": "user_id", "ok": "consent"})
    assert out["consent"].tolist() == [True, False, False]  # astype(bool) would say all True
    users["ok"] = ["yes", "maybe", "no"]
    with pytest.raises(DataContractError, match=r"column 'consent' \(raw column 'ok'\).*maybe"):
        conform_table(users, "users", {"id": "user_id", "ok": "consent"})


def test_two_raw_columns_mapped_to_one_canonical_column_are_named() -> None:
    # An environment's column map is merged with base's (soft merge): base maps 'Country',
    # the user maps 'Ship Country'; a file holding both must fail clearly, not crash in pandas.
    two = raw().assign(**{"Ship Country": ["UK", "FR"]})
    with pytest.raises(
        DataContractError,
        match=r"table 'transactions', column 'country': raw columns \['Country', 'Ship Country'\]",
    ):
        conform_table(two, "transactions", {**MAP, "Ship Country": "country"})
