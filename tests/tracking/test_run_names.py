"""Two `kedro run`s on different environments, one real SQLite MLflow store: the runs are
named by pipeline, data set and time, and every experiment opens on its training runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tailor.hooks import run_name
from tailor.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG
from tests.conftest import make_project_copy, run_kedro

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"


def test_run_name_reads_pipeline_data_set_and_time() -> None:
    when = datetime(2026, 12, 2, 8, 15, 3, tzinfo=UTC)
    assert run_name(["__default__"], None, when) == "all · base · 2026-12-02 08:15:03Z"
    assert run_name(["recommender", "evaluation"], "synthetic", when) == (
        "recommender+evaluation · synthetic · 2026-12-02 08:15:03Z"
    )
    assert run_name("forecasting", "local", when).startswith("forecasting · base · ")


@pytest.mark.e2e
def test_two_environments_are_told_apart_in_one_store(tmp_path: Path) -> None:
    project = make_project_copy(tmp_path / "project")
    run_kedro(project, "--env", "example_shop", "--pipeline", "data_engineering")
    run_kedro(
        project, "--env", "synthetic", "--pipeline", "data_engineering",
        "--params", "synthetic_users=100",
    )  # fmt: skip
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    names = {}
    for experiment in ("tailor-example-shop", "tailor-synthetic"):
        exp = client.get_experiment_by_name(experiment)
        assert exp is not None, experiment
        assert exp.tags.get(EXPERIMENT_KIND_TAG) == EXPERIMENT_KIND
        (run,) = client.search_runs([exp.experiment_id])
        names[experiment] = run.info.run_name
    assert re.fullmatch(f"data_engineering · example_shop · {STAMP}", names["tailor-example-shop"])
    assert re.fullmatch(f"data_engineering · synthetic · {STAMP}", names["tailor-synthetic"])
