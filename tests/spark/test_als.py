"""Spark ALS: a study shared by workers, exact top-k, evaluation with the project's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

from tailor.pipelines.data_engineering import nodes as de
from tailor.synthetic import generate

SPLIT = {"cutoff": "2023-10-01", "test_end": None, "validation_days": 61}
PARAMS = {
    "sources": {},
    "cleaning": {
        "cancellation_prefix": "C",
        "non_product_item_ids": [],
        "max_quantity_robust_z": 6.0,
        "max_price_ratio": 10.0,
    },
}


@pytest.fixture(scope="module")
def split_world(spark: Any) -> dict[str, Any]:
    world = generate({"n_users": 120, "seed": 5})
    tx = world["transactions"].assign(ts=lambda f: f["ts"].dt.floor("us"))
    validated = de.validate_raw_tables(tx, *(pd.DataFrame() for _ in range(8)), PARAMS["sources"])
    _, customer, _, _ = de.clean_transactions(
        validated[0], validated[1], validated[5], PARAMS["cleaning"]
    )
    train, test, fit, val, _ = de.split_interactions(de.interaction_lines(customer), SPLIT)
    frames = {"train": train, "test": test, "fit": fit, "val": val}
    return {name: spark.createDataFrame(f) for name, f in frames.items()} | {
        "train_pd": train,
        "catalog": world["items"].assign(text="", n_orders=1),
    }


def cfg(storage: str, n_trials: int) -> dict[str, Any]:
    return {
        "k": 5,
        "ks": [5, 10],
        "target_k": 10,
        "tuning": {"storage": storage, "study_name": "shared", "n_trials": n_trials,
                   "timeout": 600, "startup": 2},
        "fixed": {"iterations": 4, "blocks": 2},
        "start": {"factors": 8, "regularization": 0.1, "alpha": 10.0, "half_life_days": 365},
        "space": {
            "factors": {"type": "categorical", "choices": [4, 8]},
            "regularization": {"type": "float", "low": 0.01, "high": 1.0, "log": True},
            "alpha": {"type": "float", "low": 2.0, "high": 40.0, "log": True},
            "half_life_days": {"type": "categorical", "choices": [180, 365]},
        },
        "bootstrap": {"n_resamples": 200, "confidence": 0.95},
    }  # fmt: skip


def test_workers_share_one_study_and_evaluation_uses_the_metrics_module(
    split_world: dict[str, Any], tmp_path: Path
) -> None:
    from tailor.spark.als import fit_als, top_k
    from tailor.spark.als_nodes import evaluate_spark_als, tune_spark_als

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = tune_spark_als(split_world["fit"], split_world["val"], cfg(storage, 2), seed=3)
    # a second worker with a budget of 3 for the same study adds exactly one trial
    second = tune_spark_als(split_world["fit"], split_world["val"], cfg(storage, 3), seed=3)
    study = optuna.load_study(study_name="shared", storage=storage)
    assert first["n_trials"] == 2 and second["n_trials"] == 3
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert study.trials[0].params["factors"] == 8  # the configured start point ran first
    assert second["val_metrics"]["ndcg_at_10"] == pytest.approx(study.best_value)

    reference = {"fixed": {"iterations": 4, "num_threads": 1},
                 "start": {"factors": 8, "regularization": 10.0, "alpha": 10.0}}  # fmt: skip
    table, comparison, metrics = evaluate_spark_als(
        split_world["train"], split_world["test"], split_world["catalog"], second,
        cfg(storage, 3), reference, seed=3,
    )  # fmt: skip
    assert list(comparison["candidate"]) == ["spark_als", "als_reference"]
    # the batch table: every training user, k unseen items each, best first
    recs = table.toPandas()
    train = split_world["train_pd"]
    # Spark ALS's test NDCG@5, recomputed by hand from that table: binary gains over the
    # test buyers' new items, ideal DCG over min(|relevant|, 5), mean over those buyers.
    test = split_world["test"].toPandas()
    seen = set(zip(train["user_id"], train["item_id"], strict=True))
    relevant: dict[str, set[str]] = {}
    for u, i in zip(test["user_id"], test["item_id"], strict=True):
        if u in set(train["user_id"]) and (u, i) not in seen:
            relevant.setdefault(u, set()).add(i)
    ndcg = []
    for user, items in relevant.items():
        ranked = recs[recs["user_id"] == user].sort_values("rank")["item_id"].tolist()
        dcg = sum(1 / np.log2(r + 2) for r, item in enumerate(ranked) if item in items)
        ndcg.append(dcg / sum(1 / np.log2(r + 2) for r in range(min(len(items), 5))))
    assert metrics["test/spark_als/ndcg_at_5"]["value"] == pytest.approx(np.mean(ndcg))
    # the comparison table and the MLflow metrics carry the same numbers
    for name in ("spark_als", "als_reference"):
        row = comparison.set_index("candidate").loc[name]
        assert row["ndcg_at_10"] == metrics[f"test/{name}/ndcg_at_10"]["value"]
    row = comparison.set_index("candidate").loc["spark_als"]
    assert row["ndcg_at_5"] == pytest.approx(np.mean(ndcg))
    assert set(recs["user_id"]) == set(train["user_id"])
    assert recs.groupby("user_id").size().max() == 5
    bought = set(zip(train["user_id"], train["item_id"], strict=True))
    assert not any((u, i) in bought for u, i in zip(recs["user_id"], recs["item_id"], strict=True))
    assert (
        recs.sort_values(["user_id", "rank"]).groupby("user_id")["score"].diff().dropna() <= 0
    ).all()

    # scores are the dot products of the learned factors
    fitted = fit_als(split_world["train"], second["params"], seed=3)
    top = top_k(fitted, 3).toPandas()
    uf = fitted.model.userFactors.toPandas().set_index("id")["features"]
    itf = fitted.model.itemFactors.toPandas().set_index("id")["features"]
    user_pos = {u: i for i, u in enumerate(fitted.users.labels)}
    item_pos = {u: i for i, u in enumerate(fitted.items.labels)}
    for row in top.head(20).itertuples():
        expected = float(np.dot(uf[user_pos[row.user_id]], itf[item_pos[row.item_id]]))
        assert row.score == pytest.approx(expected, rel=1e-6)
