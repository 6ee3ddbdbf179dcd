"""The Ibis contract stops bad input with the pandas contract's words, before any output.

Each case is a raw table that breaks the contract in one way; both contracts must raise
``DataContractError`` with the same message (table, column, raw column, examples), the
Ibis one on each backend (DuckDB, Spark).
"""

from __future__ import annotations

from collections.abc import Iterator

import ibis
import pandas as pd
import pytest

from tailor.schemas import DataContractError
from tailor.schemas import conform_table as conform_pandas
from tailor.tables import backend
from tailor.tables.contract import conform_table as conform_ibis

MAP = {
    "Invoice": "order_id", "Customer": "user_id", "Sku": "item_id", "Qty": "quantity",
    "Price": "unit_price", "When": "ts", "Country": "country",
}  # fmt: skip


def lines(**changes: list) -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "Invoice": ["1", "2"], "Customer": [17850.0, None], "Sku": ["A", "B"],
            "Qty": [1, 2], "Price": [1.5, 2.0], "When": ["2011-01-01 10:00", "2011-01-02"],
            "Country": ["UK", "UK"],
        }
    )  # fmt: skip
    return raw.assign(**changes)


CASES = {
    "missing column": (lines().drop(columns="Price"), "transactions", MAP),
    "number that is not": (lines(Qty=["1", "five"]), "transactions", MAP),
    "date that is not": (lines(When=["2011-01-01", "yesterday"]), "transactions", MAP),
    "missing required value": (lines(Sku=["A", None]), "transactions", MAP),
    "two raw columns for one": (
        lines().assign(**{"Ship Country": ["UK", "FR"]}),
        "transactions",
        {**MAP, "Ship Country": "country"},
    ),
    "empty table": (lines().iloc[:0], "transactions", MAP),
    "unknown event type": (
        pd.DataFrame(
            {
                "user_id": ["u1", "u2"],
                "session_id": ["s", "s"],
                "ts": ["2011-01-01"] * 2,
                "event_type": ["teleport", "view"],
                "item_id": ["A", None],
            }
        ),
        "events",
        {},
    ),
    "boolean that is not": (
        pd.DataFrame({"id": ["a", "b", "c"], "ok": ["yes", "maybe", "no"]}),
        "users",
        {"id": "user_id", "ok": "consent"},
    ),
    "line total that is not": (
        pd.DataFrame(
            {
                "basket": [1, 2],
                "household": [7, 8],
                "product": [10, 11],
                "quantity": [2, 1],
                "sales_value": [5.0, "n/a"],
                "t": pd.to_datetime(["2017-01-01", "2017-01-02"]),
            }
        ),
        "transactions",
        {
            "basket": "order_id",
            "household": "user_id",
            "product": "item_id",
            "sales_value": "line_total",
            "t": "ts",
        },
    ),
}


@pytest.fixture(params=["duckdb", "pyspark"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend the Ibis contract runs on."""
    if request.param == "pyspark":
        backend.use(ibis.pyspark.connect(request.getfixturevalue("spark")))
    yield request.param
    backend.use(None)


@pytest.mark.parametrize("case", list(CASES))
def test_same_error_in_both_contracts(case: str, engine: str) -> None:
    raw, table, column_map = CASES[case]
    with pytest.raises(DataContractError) as expected:
        conform_pandas(raw.copy(), table, column_map)
    with pytest.raises(DataContractError) as got:
        conform_ibis(raw.copy(), table, column_map)
    assert str(got.value) == str(expected.value)
    assert f"table '{table}'" in str(got.value)


def test_valid_table_is_typed_as_the_pandas_contract_types_it(engine: str) -> None:
    expected = conform_pandas(lines(), "transactions", MAP)
    got = conform_ibis(lines(), "transactions", MAP).drop("_row").to_pandas()
    assert got["user_id"].tolist() == ["17850", None]  # float ids become clean strings
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


# Layouts of exported dates: each row its own, as CSV exports mix them.
LAYOUTS = [
    "2011-12-09 12:50", "2011-12-09T12:50:00", "2011-12-09 12:50:00.123", "2011/12/09",
    "12/9/2011 12:50", "9.12.2011 12:50", "12/09/11 12:50", "Dec 9 2011 12:50",
    "09-Dec-2011", "December 9, 2011", " 2011-12-09 ",
]  # fmt: skip


def test_text_dates_are_read_as_pandas_reads_them(engine: str) -> None:
    n = len(LAYOUTS)
    raw = lines().iloc[[0] * n].reset_index(drop=True).assign(When=LAYOUTS)
    expected = conform_pandas(raw.copy(), "transactions", MAP)["ts"]
    got = conform_ibis(raw.copy(), "transactions", MAP).order_by("_row").to_pandas()["ts"]
    assert got.tolist() == expected.tolist()
    assert expected.dt.year.eq(2011).all() and expected.iloc[5].month == 9  # day 12, month 9
