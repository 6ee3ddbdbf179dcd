"""Any shop's export: ids and text kept intact, line totals, composed descriptions, age bands."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tailor.customer_features import age_columns
from tailor.datasets import OptionalTableDataset
from tailor.item_catalog import clean_text
from tailor.pipelines.data_engineering.nodes import validate_raw_tables
from tailor.schemas import DataContractError, compose_columns, conform_table

CSV = (
    "order,customer,sku,qty,price,when,name\n"
    "1,00042,000123,1,2.5,2024-01-02 10:00,Crème brûlée Tasse\n"
    "2,12345678901234567,000123,2,2.5,2024-01-03,茶碗 set 2\n"
    "3,NA,A-1,1,1.0,2024-01-04,\n"
    "4,,A-1,1,1.0,2024-01-05,None\n"
)
MAP = {
    "order": "order_id",
    "customer": "user_id",
    "sku": "item_id",
    "qty": "quantity",
    "price": "unit_price",
    "when": "ts",
    "name": "description",
}


def test_csv_ids_and_text_survive_as_written(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV, encoding="utf-8")
    raw = OptionalTableDataset(filepath=str(path)).load()
    lines = conform_table(raw, "transactions", MAP)
    # leading zeros, 17 digits and the word "NA" are ids; only an empty cell is missing
    assert lines["user_id"].tolist() == ["00042", "12345678901234567", "NA", None]
    assert lines["item_id"].tolist() == ["000123", "000123", "A-1", "A-1"]
    assert lines["description"].tolist()[:2] == ["Crème brûlée Tasse", "茶碗 set 2"]
    assert lines["quantity"].tolist() == [1.0, 2.0, 1.0, 1.0]


def test_required_table_file_missing_is_named(tmp_path: Path) -> None:
    from kedro.io import DatasetError

    missing = tmp_path / "nope.parquet"
    assert OptionalTableDataset(filepath=str(missing)).load().empty
    with pytest.raises(DatasetError, match=r"nope\.parquet"):
        OptionalTableDataset(filepath=str(missing), required=True).load()


def test_item_text_keeps_digits_and_any_script() -> None:
    text = pd.Series(["SUBCLASS 590507", "Crème Brûlée-Tasse", "茶碗_2", None])
    assert clean_text(text).tolist() == ["subclass 590507", "crème brûlée tasse", "茶碗 2", ""]


def test_unit_price_from_line_total_and_zero_quantity() -> None:
    raw = pd.DataFrame(
        {
            "basket": [1, 2, 3],
            "household": [7, 7, 8],
            "product": [10, 11, 12],
            "quantity": [2, 0, 4],
            "sales_value": [5.0, 1.0, 2.0],
            "t": pd.to_datetime(["2017-01-01", "2017-01-02", "2017-01-03"]),
        }
    )
    cols = {"basket": "order_id", "household": "user_id", "product": "item_id"}
    cols |= {"sales_value": "line_total", "t": "ts"}
    lines = conform_table(raw, "transactions", cols)
    assert lines["unit_price"].tolist() == [2.5, 0.0, 0.5]  # 0 units: dropped as non-positive
    assert lines["user_id"].tolist() == ["7", "7", "8"]  # integer ids become their digits
    raw.loc[1, "sales_value"] = "n/a"
    with pytest.raises(DataContractError, match=r"line_total.*sales_value"):
        conform_table(raw.astype({"sales_value": object}), "transactions", cols)


def test_description_composed_from_product_fields() -> None:
    raw = pd.DataFrame(
        {"dept": ["GROCERY", "DELI"], "kind": ["COLD CEREAL", None], "size": [" 14 OZ", None]}
    )
    out = compose_columns(raw, {"description": ["dept", "kind", "size"]})
    assert out["description"].tolist() == ["GROCERY COLD CEREAL 14 OZ", "DELI"]
    with pytest.raises(DataContractError, match=r"compose 'description'.*'brand'"):
        compose_columns(raw, {"description": ["dept", "brand"]})


def test_age_numbers_or_bands() -> None:
    numeric = age_columns(pd.Series(["51", "22.0", None], index=["a", "b", "c"]))
    assert list(numeric.columns) == ["age"]
    assert numeric["age"].tolist()[:2] == [51.0, 22.0]
    bands = age_columns(pd.Series(["25-34", "65+", None], index=["a", "b", "c"]))
    assert list(bands.columns) == ["age_band"]
    assert bands["age_band"].tolist() == ["25-34", "65+", None]


def test_country_is_optional_and_null_when_absent() -> None:
    raw = pd.DataFrame(
        {"order_id": ["1"], "user_id": ["u"], "item_id": ["i"], "quantity": [1],
         "unit_price": [1.0], "ts": ["2024-01-01"]}
    )  # fmt: skip
    empty = pd.DataFrame()
    lines, *_ = validate_raw_tables(raw, empty, empty, empty, empty, empty, {})
    assert "country" in lines and lines["country"].isna().all()
