"""`kedro run --pipeline monitoring` on the synthetic storefront, with and without drift."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.conftest import ENV, make_project_copy, run_kedro

PLANTED = ["unit_price", "basket_size", "app_share"]  # prices x1.4, baskets x1.8, app +0.3
REPORTS = ("data_drift", "quality_customers", "quality_lines", "prediction_drift")


def _outputs(project: Path) -> tuple[dict, pd.DataFrame]:
    out = project / "data/synthetic/08_reporting/monitoring"
    for name in REPORTS:
        assert (out / f"{name}.html").stat().st_size > 0
        json.loads((out / f"{name}.json").read_text())
    record = json.loads((out / "retrain_recommended.json").read_text())
    return record, pd.read_csv(out / "drift.csv").set_index("column")


def _latest_run(project: Path) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tailor-synthetic")
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])[0]


def _monitor(project: Path, drift: str) -> str:
    proc = run_kedro(
        project,
        "--env",
        "synthetic",
        "--pipeline",
        "monitoring",
        "--params",
        f"synthetic_users=300,synthetic_drift={drift}",
    )
    return proc.stdout + proc.stderr


@pytest.mark.e2e
def test_no_injected_drift_no_signal(synthetic_project: Path) -> None:
    log = _monitor(synthetic_project, "false")
    record, drift = _outputs(synthetic_project)
    assert record["retrain_recommended"] is False, record["reasons"]
    assert not drift.loc[PLANTED, "drifted"].any()
    assert "retrain not needed" in log
    run = _latest_run(synthetic_project)
    assert run.data.tags["retrain_recommended"] == "false"
    assert run.data.metrics["drift/retrain_recommended"] == 0
    assert run.data.metrics["drift/customers_count"] == drift["drifted"].sum()
    # the report history for `make monitoring-ui`
    from evidently.ui.workspace import Workspace

    ws = Workspace(str(synthetic_project / "evidently_workspace"))
    project = ws.search_project("tailor: data/synthetic")[0]
    assert len(ws.list_runs(project.id)) >= 3


@pytest.mark.e2e
def test_injected_drift_is_detected_signals_and_retrains(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = make_project_copy(tmp_path_factory.mktemp("drift_project"))
    params = "synthetic_users=300,synthetic_drift=true"
    run_kedro(project, "--env", "synthetic", "--pipeline", "data_engineering", "--params", params)
    # `make retrain-if-needed`, retraining only segmentation here to stay fast.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tailor.monitoring.retrain_loop",
            "--env",
            "synthetic",
            "--params",
            f"{params},monitoring.retrain.pipelines=segmentation",
        ],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    record, drift = _outputs(project)
    assert drift.loc[PLANTED, "drifted"].all(), drift.loc[PLANTED]
    assert record["retrain_recommended"] is True
    assert any("customers drift share" in r for r in record["reasons"])
    assert "RETRAIN RECOMMENDED" in log
    # the retraining really ran, and the decision is kept as a dataset and in MLflow
    assert (project / "data/synthetic/07_model_output/customer_segments_train.parquet").exists()
    decisions = pd.read_csv(
        project / "data/synthetic/08_reporting/monitoring/retrain_decisions.csv"
    )
    row = decisions.iloc[-1]
    assert bool(row["retrain_recommended"]) and bool(row["retrained"])
    assert not bool(row["promoted"])  # no recommender was trained, so no new champion
    assert "customers drift share" in row["reasons"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tailor-synthetic")
    # run names read "<pipelines> · <env> · <time>" (tailor.hooks)
    runs = {r.info.run_name.split(" · ")[0]: r for r in client.search_runs([exp.experiment_id])}
    assert runs["monitoring"].data.tags["retrain_recommended"] == "true"
    assert runs["monitoring"].data.metrics["drift/customers_share"] >= 0.3
    assert runs["retrain-if-needed"].data.tags["promoted"] == "false"
    assert runs["retrain-if-needed"].data.metrics["retrain/promoted"] == 0
