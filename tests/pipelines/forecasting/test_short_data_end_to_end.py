"""Four months of data and base's forecasting parameters: the pipeline degrades, warns and runs.

The synthetic storefront, shortened to 120 days, with only the cut-off set (what a new user
sets); base wants 6 folds of 56 days, 21 days apart, and a 56-day horizon, which do not fit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_project_copy, run_kedro

SMALL = "synthetic_users=200,forecasting.demand.tuning.n_trials=2"  # only the budget is cut


@pytest.fixture(scope="module")
def short_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project_copy(tmp_path_factory.mktemp("short_project"))
    env = project / "conf" / "four_months"
    shutil.copytree(project / "conf" / "synthetic", env)
    catalog = env / "catalog.yml"
    text = catalog.read_text()
    assert "days: 365" in text
    catalog.write_text(text.replace("days: 365", "days: 120"))
    params = env / "parameters.yml"
    text = params.read_text()
    assert 'cutoff: "2023-10-01"' in text
    params.write_text(text.replace('cutoff: "2023-10-01"', 'cutoff: "2023-04-01"'))
    (env / "globals.yml").write_text("data_dir: data/four_months\n")
    for pipeline in ("data_engineering", "segmentation"):
        run_kedro(project, "--env", "four_months", "--pipeline", pipeline, "--params", SMALL)
    return project


@pytest.mark.e2e
def test_four_months_run_forecasting_degraded_and_warned(short_project: Path) -> None:
    proc = run_kedro(
        short_project, "--env", "four_months", "--pipeline", "forecasting", "--params", SMALL
    )
    log = " ".join((proc.stdout + proc.stderr).split())
    data = short_project / "data" / "four_months"
    windows = json.loads((data / "08_reporting" / "forecast_windows.json").read_text())
    assert windows["horizon_days"] < 56 and windows["n_folds"] < 6
    notes = " ".join(windows["warnings"])
    for name in ("forecasting.demand.horizon_days", "forecasting.demand.validation.n_folds"):
        assert name in notes and name in log
    assert "SeriesTooShortError" not in log
    forecast = pd.read_parquet(data / "07_model_output" / "demand_forecast.parquet")
    overall = forecast[forecast["segment"] == "all"]
    assert len(overall) == 2 * windows["horizon_days"]  # orders and revenue, degraded horizon
    assert overall["yhat"].notna().all()
    preds = pd.read_parquet(data / "07_model_output" / "next_purchase_predictions.parquet")
    assert len(preds) > 0 and preds["expected_days"].ge(0).all()
