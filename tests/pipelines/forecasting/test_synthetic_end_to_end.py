"""`kedro run --pipeline forecasting` on the synthetic storefront: planted cycles, contracts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.forecasting.demand import CANDIDATES
from tests.conftest import ensure_run, synthetic_truth

# small budgets: this checks the wiring and the planted truth, bench/ measures the quality
FAST = (
    "synthetic_users=300,forecasting.demand.tuning.n_trials=3,"
    "forecasting.demand.validation.n_folds=2"
)


@pytest.fixture(scope="module")
def forecasted(synthetic_project: Path) -> Path:
    ensure_run(synthetic_project, "segmentation", "synthetic_users=300")
    ensure_run(synthetic_project, "forecasting", FAST)
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
    out = forecasted / "data" / "synthetic"
    holdout = pd.read_parquet(out / "07_model_output/holdout_forecasts.parquet")
    daily = pd.read_parquet(out / "03_primary/daily_demand.parquet")
    holdout["date"] = pd.to_datetime(holdout["date"])
    daily["date"] = pd.to_datetime(daily["date"])
    for target in ("orders", "revenue"):
        rows = overall[overall["target"] == target]
        # season_ensemble only where the hold-out's weeks a year earlier are in the data
        seen = bool(rows["season_seen"].iloc[0])
        assert set(rows["model"]) == set(CANDIDATES) - (set() if seen else {"season_ensemble"})
        served = rows[rows["served"]]
        # chosen on the validation folds: the lowest recency-weighted mean rank
        val = rows[rows["window"] == "validation"].set_index("model")["weighted_rank"]
        assert served["model"].iloc[0] == val.idxmin()
        hold = served[served["window"] == "holdout"].iloc[0]
        # Recomputed from the stored hold-out forecasts and the actual daily demand: the
        # share of trading days inside the served interval and its mean width.
        part = holdout[
            (holdout["target"] == target)
            & (holdout["segment"] == "all")
            & (holdout["model"] == hold["model"])
        ].merge(daily[["date", target]], on="date")
        np.testing.assert_allclose(part["y"], part[target])  # the actuals are the demand
        part = part[part["trading"].astype(bool)]
        inside = (part["y"] >= part["yhat_lower"]) & (part["y"] <= part["yhat_upper"])
        assert hold["coverage"] == pytest.approx(inside.mean(), abs=1e-9)
        assert hold["width"] == pytest.approx((part["yhat_upper"] - part["yhat_lower"]).mean())
    # per segment the same rule: one served model per (target, segment)
    seg = results[(results["segment"] != "all") & (results["window"] == "holdout")]
    assert (seg.groupby(["target", "segment"])["served"].sum() == 1).all()
    assert (reporting / "forecast_plots" / "forecast_orders.png").stat().st_size > 10_000
    trials = pd.read_csv(reporting / "forecast_tuning_trials.csv")
    studies = set(trials["study"])
    assert len(studies) == 2 and all(s.startswith("forecasting-") for s in studies)
    with sqlite3.connect(forecasted / "mlflow.db") as db:
        keys = {k for (k,) in db.execute("select distinct key from metrics")}
        marks = ",".join("?" * len(studies))
        # the forecasting studies' own trial runs, each nested under a parent run
        nested = db.execute(
            "select count(distinct s.run_uuid) from tags s join tags p "
            "on s.run_uuid = p.run_uuid and p.key = 'mlflow.parentRunId' "
            f"where s.key = 'study' and s.value in ({marks})",
            sorted(studies),
        ).fetchone()[0]
    assert {
        "forecast/orders/served/holdout_mase",
        "forecast/orders/served/interval_coverage",
        "forecast/revenue/autoets/holdout_smape",
        "forecast/revenue/median_ensemble/holdout_mase",
        "next_purchase/aft/mae",
        "next_purchase/served/mae",
        "next_purchase/gradient_boosting/c_index",
    } <= keys
    assert nested == len(trials) >= 6  # 3 Optuna trials per target, each a nested run


@pytest.mark.e2e
def test_next_purchase_model_is_chosen_on_validation(forecasted: Path) -> None:
    reporting = forecasted / "data" / "synthetic" / "08_reporting"
    table = pd.read_csv(reporting / "next_purchase_evaluation.csv")
    val = table[table["window"] == "validation"].set_index("model")
    assert set(val.index) == {"aft", "bgnbd", "gradient_boosting", "interval_heuristic"}
    assert val["served"].idxmax() == val["mae_uncensored"].idxmin()
    preds = pd.read_parquet(
        forecasted / "data" / "synthetic" / "07_model_output" / "next_purchase_predictions.parquet"
    )
    assert set(preds["model"]) == {val["served"].idxmax()}
