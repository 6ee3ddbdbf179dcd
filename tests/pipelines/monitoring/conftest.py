"""Monitoring fixtures: the real configuration and the cleaned default data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tailor.pipelines.data_engineering.nodes import clean_transactions
from tailor.schemas import conform_table

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def monitoring_params() -> dict[str, Any]:
    """The base parameters of the monitoring pipeline, as shipped."""
    return yaml.safe_load((ROOT / "conf/base/parameters_monitoring.yml").read_text())["monitoring"]


@pytest.fixture(scope="session")
def default_customer_lines() -> pd.DataFrame:
    """Customer lines of the UCI Online Retail data, cleaned by the project's own cleaning."""
    params = yaml.safe_load((ROOT / "conf/base/parameters_data_engineering.yml").read_text())
    de = params["data_engineering"]
    raw = pd.read_parquet(ROOT / "data/01_raw/online_retail/online_retail_ii.parquet")
    tx = conform_table(raw, "transactions", de["sources"]["transactions"]["columns"])
    empty = pd.DataFrame({"user_id": []})
    _, customer, _, _ = clean_transactions(tx, empty, empty.copy(), de["cleaning"])
    return customer
