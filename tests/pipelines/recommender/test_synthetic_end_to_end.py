"""`kedro run --pipeline recommender` on the synthetic storefront (300 users): it recovers
the planted preferences (NDCG@10 at least twice popularity's) and ships a usable model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import ensure_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def recommender_run(synthetic_project: Path) -> Path:
    for pipeline in ("segmentation", "recommender"):
        ensure_run(synthetic_project, pipeline, "synthetic_users=300")
    return synthetic_project


def test_recovers_planted_preferences(recommender_run: Path) -> None:
    results = pd.read_csv(recommender_run / "data/synthetic/08_reporting/recommender_results.csv")
    by_name = results.set_index("candidate")
    served = by_name.loc["served", "test_ndcg_at_10"]
    popularity = by_name.loc["popularity", "test_ndcg_at_10"]
    assert served >= 2 * popularity, results[["candidate", "test_ndcg_at_10"]]
    assert results["served"].sum() == 1


def test_recommendations_contract(recommender_run: Path) -> None:
    data = recommender_run / "data/synthetic"
    recs = pd.read_parquet(data / "07_model_output/recommendations_test.parquet")
    assert list(recs.columns) == ["candidate", "user_id", "rank", "item_id", "score"]
    assert {"served", "popularity", "lightfm_default", "ease", "als"} <= set(recs["candidate"])
    train = pd.read_parquet(data / "05_model_input/interactions_train.parquet")
    bought = set(zip(train["user_id"].astype(str), train["item_id"].astype(str), strict=True))
    pairs = zip(recs["user_id"], recs["item_id"], strict=True)
    assert not any(p in bought for p in pairs)
    sizes = recs.groupby(["candidate", "user_id"]).size()
    assert (sizes == 20).all()


def test_registered_champion_and_its_run(recommender_run: Path) -> None:
    uri = f"sqlite:///{recommender_run / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = "tailor-recommender-synthetic"  # one registered model per environment
    champion = client.get_model_version_by_alias(name, "champion")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    out = model.predict(pd.DataFrame({"user_id": ["nobody"], "k": [7], "recent_items": [""]}))
    assert len(out) == 7
    # the registered model is the serving refit: fitted up to the end of the data, past
    # the evaluation cut-off (2023-10-01 in the synthetic environment)
    assert pd.Timestamp(champion.tags["as_of"]) > pd.Timestamp("2023-12-01")
    run = client.get_run(champion.run_id)
    assert "val/ndcg_at_10" in run.data.metrics
    assert "val/popularity/ndcg_at_10" in run.data.metrics
    # test/* keys belong to the evaluation pipeline only (one writer per metric key)
    assert not [k for k in run.data.metrics if k.startswith("test/")]
    trials = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert len(trials) >= 5
