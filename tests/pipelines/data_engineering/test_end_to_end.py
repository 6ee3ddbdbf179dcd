"""`kedro run` of data_engineering on the synthetic world and on a bring-your-own-data env."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_project_copy, run_kedro

pytestmark = pytest.mark.e2e

EXAMPLE_SHOP = Path(__file__).resolve().parents[3] / "data/01_raw/example_shop"


def example_shop_copy(dest: Path) -> tuple[Path, Path]:
    """A project copy whose example_shop raw folder is a real, empty one the test fills."""
    project = make_project_copy(dest)
    shop = project / "data/01_raw/example_shop"
    shop.unlink()  # a link to the checkout's folder: never write through it
    shop.mkdir()
    return project, shop


def test_synthetic_run_produces_every_output(synthetic_project: Path) -> None:
    data = synthetic_project / "data" / "synthetic"
    features = pd.read_parquet(data / "04_feature/customer_features_train.parquet")
    train = pd.read_parquet(data / "05_model_input/interactions_train.parquet")
    test = pd.read_parquet(data / "05_model_input/interactions_test.parquet")
    catalog = pd.read_parquet(data / "03_primary/item_catalog.parquet")
    report = pd.read_csv(data / "08_reporting/cleaning_report.csv")
    cutoff = pd.Timestamp("2023-10-01")

    assert train["ts"].max() <= cutoff < test["ts"].min()
    # optional sources were consumed: channel/device mix, carts, email, demographics
    for col in ("app_share", "mobile_share", "cart_abandon_sessions", "email_open_rate", "age"):
        assert col in features.columns and features[col].notna().any(), col
    assert features["user_id"].is_unique and len(features) > 200
    assert (features["as_of"] == cutoff).all()
    assert features["last_ts"].max() <= cutoff
    # tuning snapshot and split: nothing after the validation cutoff (cutoff - 61 days)
    val_cut = cutoff - pd.Timedelta(days=61)
    val_features = pd.read_parquet(data / "04_feature/customer_features_val.parquet")
    assert (val_features["as_of"] == val_cut).all() and val_features["last_ts"].max() <= val_cut
    fit = pd.read_parquet(data / "05_model_input/interactions_fit.parquet")
    val = pd.read_parquet(data / "05_model_input/interactions_val.parquet")
    assert fit["ts"].max() <= val_cut < val["ts"].min() and val["ts"].max() <= cutoff
    assert len(fit) + len(val) == len(train)
    # serving profiles: as of the end of the data
    serving = pd.read_parquet(data / "04_feature/customer_features_serving.parquet")
    assert (serving["as_of"] == test["ts"].max()).all()
    assert set(features["user_id"]) <= set(serving["user_id"])
    assert catalog["category"].nunique() == 10  # the items table's categories are used
    counts = dict(zip(report["step"], report["rows"], strict=True))
    assert counts["exact_duplicates"] > 0 and counts["cancellation_lines"] > 0
    assert counts["opted_out_users"] > 0  # the generator plants opted-out users


def test_bring_your_own_data_environment(tmp_path: Path) -> None:
    """A user's CSVs with their own column names run through an environment, no code change."""
    project, shop = example_shop_copy(tmp_path / "byod")
    for name in ("orders.csv", "customers.csv"):
        (shop / name).write_text((EXAMPLE_SHOP / name).read_text())
    pd.DataFrame({"user_id": ["000003"]}).to_csv(shop / "suppression_list.csv", index=False)

    run_kedro(project, "--env", "example_shop", "--pipeline", "data_engineering")

    out = project / "data/example_shop"
    lines = pd.read_parquet(out / "02_intermediate/customer_lines.parquet")
    demand = pd.read_parquet(out / "02_intermediate/demand_lines.parquet")
    train = pd.read_parquet(out / "05_model_input/interactions_train.parquet")
    users = pd.read_csv(shop / "customers.csv", dtype=str)
    opted_out = set(users.loc[users["Marketing OK"] == "False", "Customer"])
    assert set(lines.columns) >= {"order_id", "user_id", "item_id", "quantity", "unit_price", "ts"}
    assert len(lines) > 500
    # ids are text as written: "000003" is forgotten, "000010" keeps its zeros
    assert "000003" not in set(demand["user_id"]) and "000010" in set(demand["user_id"])
    assert not {"3", "10"} & set(demand["user_id"])
    assert opted_out and opted_out.isdisjoint(lines["user_id"])
    assert train["ts"].max() <= pd.Timestamp("2024-05-01")


def test_bad_raw_table_stops_before_any_output(tmp_path: Path) -> None:
    project, shop = example_shop_copy(tmp_path / "bad")
    orders = pd.read_csv(EXAMPLE_SHOP / "orders.csv").drop(columns=["Price"])
    orders.to_csv(shop / "orders.csv", index=False)

    import subprocess

    from tests.conftest import ENV, KEDRO

    proc = subprocess.run(
        [str(KEDRO), "run", "--env", "example_shop", "--pipeline", "data_engineering"],
        cwd=project, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode != 0
    output = " ".join((proc.stdout + proc.stderr).split())
    assert "column 'unit_price'" in output and "'Price'" in output
    assert not any((project / "data/example_shop").rglob("*.parquet"))
