"""`kedro run --pipeline forecasting` on the synthetic storefront: planted cycles, contracts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_kedro, synthetic_truth

# small budgets: this checks the wiring and the planted truth, bench/ measures the quality
FAST = (
    "synthetic_users=300,forecasting.demand.tuning.n_trials=3,"
    "forecasting.demand.validation.n_folds=2"
)


@pytest.fixture(scope="module")
def forecasted(synthetic_project: Path) -> Path:
    out = synthetic_project / "data" / "synthetic" / "07_model_output"
    if not (out / "customer_segments_train.parquet").exists():
        run_kedro(
            synthetic_project,
            "--env", "synthetic", "--pipeline", "segmentation", "--params", "synthetic_users=300",
        )  # fmt: skip
    run_kedro(
        synthetic_project, "--env", "synthetic", "--pipeline", "forecasting", "--params", FAST
    )
    return synthetic_project


@pytest.mark.e2e
def test_planted_14_day_cycle_is_recovered(
    forecasted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preds = pd.read_parquet(
        forecasted / "data" / "synthetic" / "07_model_output" / "next_purchase_predictions.parquet"
    )
    planted = synthetic_truth(forecasted, monkeypatch)
    loyal = preds.merge(planted, on="user_id")
    loyal = loyal[loyal["segment"] == "loyal"]
    assert len(loyal) >= 20
    assert loyal["cycle_days"].median() == pytest.approx(14, abs=1)  # what was planted
    assert abs(loyal["interval_days"].median() - 14) <= 2, loyal["interval_days"].describe()


@pytest.mark.e2e
def test_outputs_follow_the_contracts(forecasted: Path) -> None:
    out = forecasted / "data" / "synthetic" / "07_model_output"
    preds = pd.read_parquet(out / "next_purchase_predictions.parquet")
    assert list(preds.columns[:4]) == ["user_id", "expected_days", "p_buy_30d", "predicted_date"]
    assert preds["p_buy_30d"].between(0, 1).all() and (preds["expected_days"] >= 0).all()
    assert preds["user_id"].is_unique
    repl = pd.read_parquet(out / "replenishment_candidates.parquet")
    assert list(repl.columns) == [
        "user_id", "item_id", "interval_days", "last_bought", "due_date", "score",
    ]  # fmt: skip
    assert len(repl) > 0 and repl["score"].between(0, 1).all()
    forecast = pd.read_parquet(out / "demand_forecast.parquet")
    assert {"all"} < set(forecast["segment"])  # overall and per segment
    assert (forecast.loc[~forecast["open"], "yhat"] == 0).all()


@pytest.mark.e2e
def test_results_table_plots_and_mlflow_metrics(forecasted: Path) -> None:
    reporting = forecasted / "data" / "synthetic" / "08_reporting"
    results = pd.read_csv(reporting / "forecast_results.csv")
    overall = results[results["segment"] == "all"]
    for target in ("orders", "revenue"):
        rows = overall[overall["target"] == target]
        assert set(rows["model"]) == {
            "prophet",
            "seasonal_naive",
            "autoets",
            "autoarima",
            "ensemble",
        }
        served = rows[rows["served"]]
        # chosen on the validation folds: the served model has the lowest validation MASE
        val = rows[rows["window"] == "validation"].set_index("model")["mase"]
        assert served["model"].iloc[0] == val.idxmin()
    assert (reporting / "forecast_plots" / "forecast_orders.png").stat().st_size > 10_000
    with sqlite3.connect(forecasted / "mlflow.db") as db:
        keys = {k for (k,) in db.execute("select distinct key from metrics")}
        # the forecasting studies' own trial runs (the store also holds other pipelines' runs)
        nested = db.execute(
            "select count(*) from tags where key = 'study' and value like 'forecasting-prophet-%'"
        ).fetchone()
    assert {"forecast/orders/served/mase", "forecast/revenue/autoets/smape"} <= keys
    assert "forecast/next_purchase/aft/c_index" in keys
    assert nested[0] >= 6  # 3 Optuna trials per target, each a nested run
