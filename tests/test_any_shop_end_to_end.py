"""Any shop, end to end: every pipeline on the example shop and on a sample of The Complete
Journey in fresh project copies, with no parameter edit beyond the environment's column map
and cut-off (tuning budgets are cut for CI only)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, complete_journey_sample, make_project_copy, run_kedro

# CI budgets: fewer trials and seconds; the code paths are the ones a full run takes.
BUDGET = ",".join(
    [
        "recommender.tuning.budget_seconds=40",
        "forecasting.demand.tuning.n_trials=2",
        "evaluation.bootstrap.n_resamples=100",
    ]
)
OUTPUTS = [
    "08_reporting/cleaning_report.csv",
    "07_model_output/customer_segments_serving.parquet",
    "07_model_output/recommendations_test.parquet",
    "07_model_output/demand_forecast.parquet",
    "08_reporting/evaluation.csv",
    "08_reporting/monitoring/retrain_recommended.json",
]


def _outputs(data: Path) -> list[str]:
    return [p for p in OUTPUTS if not (data / p).exists()]


@pytest.mark.e2e
def test_example_shop_every_pipeline_and_ids_reach_the_served_artefacts(tmp_path: Path) -> None:
    project = make_project_copy(tmp_path / "shop")
    run_kedro(project, "--env", "example_shop", "--params", BUDGET, timeout=1500)
    data = project / "data/example_shop"
    assert _outputs(data) == []
    # ids as written ("000010", "00162") and non-ASCII names reach the served artefacts
    home = tmp_path / "bentoml"
    run_kedro(project, "--env", "example_shop", "--pipeline", "serving", "--params", BUDGET,
              env={"BENTOML_HOME": str(home)})  # fmt: skip
    served = {
        p.name: pd.read_parquet(p) for p in (home / "models").rglob("*.parquet") if p.is_file()
    }
    ids = set().union(*(set(f["user_id"].astype(str)) for f in served.values() if "user_id" in f))
    items = set().union(*(set(f["item_id"].astype(str)) for f in served.values() if "item_id" in f))
    text = " ".join(
        " ".join(f[c].astype(str)) for f in served.values() for c in f if c == "description"
    )
    assert "000010" in ids and "10" not in ids
    assert "00162" in items and "162" not in items
    assert "COUSSIN BRODÉ" in text and "提灯" in text


@pytest.mark.e2e
def test_complete_journey_sample_every_pipeline(tmp_path: Path) -> None:
    project = make_project_copy(tmp_path / "cj")
    raw = project / "data/01_raw/complete_journey"
    if raw.is_symlink():
        raw.unlink()
    complete_journey_sample(raw, households=80, seed=1)
    run_kedro(project, "--env", "complete_journey", "--params", BUDGET, timeout=1500)
    data = project / "data/complete_journey"
    assert _outputs(data) == []
    report = pd.read_csv(data / "08_reporting/cleaning_report.csv").set_index("step")["rows"]
    assert report["non_positive_quantity"] > 0  # zero-quantity lines are dropped and counted
    assert report["cancellation_lines"] == 0  # no cancellation prefix configured
    features = pd.read_parquet(data / "04_feature/customer_features_train.parquet")
    assert features["age_band"].dropna().str.fullmatch(r"\d\d-\d\d|\d\d\+").all()
    assert features["campaigns_received"].max() > 0
    groups = pd.read_csv(data / "08_reporting/evaluation_breakdowns.csv")
    assert {"age_band", "income"} <= set(groups["grouping"])


@pytest.mark.e2e
def test_four_months_with_default_parameters_degrade_with_warnings(tmp_path: Path) -> None:
    """Four months of a real shop, only the cut-off set: forecasting shortens its
    horizon/folds and names each parameter it shortened (in the log and in
    forecast_windows.json); monitoring, asked for a current window longer than the history
    before it, compares what fits, says so naming monitoring.reference, and records the
    windows it used."""
    project = make_project_copy(tmp_path / "short")
    raw = project / "data/01_raw/complete_journey"
    if raw.is_symlink():
        raw.unlink()
    complete_journey_sample(raw, households=80, seed=2, start="2017-01-01", end="2017-05-01")
    args = ["--env", "complete_journey", "--params", f"split.cutoff=2017-04-01,{BUDGET}"]
    run_kedro(project, *args, "--pipeline", "data_engineering")
    run_kedro(project, *args, "--pipeline", "segmentation")
    proc = run_kedro(project, *args, "--pipeline", "forecasting", timeout=1200)
    log = " ".join((proc.stdout + proc.stderr).split())
    data = project / "data/complete_journey"
    assert (data / "07_model_output/demand_forecast.parquet").exists()
    windows = json.loads((data / "08_reporting/forecast_windows.json").read_text())
    demand = yaml.safe_load((ROOT / "conf/base/parameters_forecasting.yml").read_text())
    demand = demand["forecasting"]["demand"]
    configured = {"horizon_days": demand["horizon_days"], **demand["validation"]}
    configured = {k: configured[k] for k in ("horizon_days", "n_folds", "fold_step_days")}
    shortened = [k for k, v in configured.items() if windows[k] < v]
    assert shortened, windows  # four months cannot hold the configured windows
    for key in shortened:
        name = f"forecasting.demand.{'validation.' if key != 'horizon_days' else ''}{key}"
        assert any(w.startswith(f"{name} = {configured[key]}") for w in windows["warnings"])
        assert "WARNING" in log and name in log

    mon = ["--env", "complete_journey", "--params",
           f"split.cutoff=2017-04-01,monitoring.current.days=80,{BUDGET}"]  # fmt: skip
    proc = run_kedro(project, *mon, "--pipeline", "monitoring")
    log = " ".join((proc.stdout + proc.stderr).split())
    record = json.loads((data / "08_reporting/monitoring/retrain_recommended.json").read_text())
    lines = pd.read_parquet(data / "02_intermediate/customer_lines.parquet")
    first, last = lines["ts"].min().normalize(), lines["ts"].max().normalize()
    start = last - pd.Timedelta(days=79)
    day = pd.Timedelta(days=1)
    assert record["windows"] == {
        "reference": f"{first.date()}..{(start - day).date()}",
        "current": f"{start.date()}..{last.date()}",
    }
    ref_days = (start - first).days
    assert f"monitoring.reference: {ref_days} days, shorter than the 80-day current" in log
