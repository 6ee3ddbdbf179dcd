"""Cleaning on the real UCI Online Retail data: the known traps are handled."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tailor.pipelines.data_engineering.nodes import clean_transactions
from tailor.schemas import conform_table

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cleaned() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    params = yaml.safe_load((ROOT / "conf/base/parameters_data_engineering.yml").read_text())
    de = params["data_engineering"]
    raw = pd.read_parquet(ROOT / "data/01_raw/online_retail/online_retail_ii.parquet")
    tx = conform_table(raw, "transactions", de["sources"]["transactions"]["columns"])
    empty_users = pd.DataFrame({"user_id": []})
    demand, customer, report, _ = clean_transactions(
        tx, empty_users, pd.DataFrame({"user_id": []}), de["cleaning"]
    )
    return demand, customer, report


def test_giant_cancelled_orders_leave_no_trace(cleaned) -> None:
    demand, customer, _ = cleaned
    assert demand["quantity"].max() < 74215
    for frame in (demand, customer):
        assert not ((frame["user_id"] == "12346") & (frame["item_id"] == "23166")).any()
        assert not ((frame["user_id"] == "16446") & (frame["item_id"] == "23843")).any()


def test_report_counts_on_default_data(cleaned) -> None:
    demand, customer, report = cleaned
    counts = dict(zip(report["step"], report["rows"], strict=True))
    assert counts["rows_in"] == 1_067_371
    assert counts["exact_duplicates"] == 34_335
    assert counts["demand_rows_out"] == len(demand)
    assert counts["customer_rows_out"] == len(customer)
    # every input row is accounted for: dropped by exactly one rule, or kept as demand
    dropped = report.loc[report["kind"] == "dropped", "rows"].sum()
    assert counts["rows_in"] - dropped == len(demand)
    assert customer["user_id"].notna().all()
    assert not demand["order_id"].str.startswith("C").any()
    assert not demand["item_id"].isin(["POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE"]).any()
    assert (demand["quantity"] > 0).all() and (demand["unit_price"] > 0).all()
