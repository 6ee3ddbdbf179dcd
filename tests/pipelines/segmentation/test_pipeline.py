"""The pipeline's wiring (no snapshot sees later data) and the stability metrics it logs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tailor.customer_features import customer_features
from tailor.pipelines.segmentation import create_pipeline
from tailor.pipelines.segmentation.nodes import assign_segments, fit_segmentation, measure_stability
from tailor.synthetic import generate

LATER = {"customer_features_train", "customer_features_serving", "customer_lines"}


def test_validation_segments_read_only_validation_features() -> None:
    upstream = create_pipeline().to_outputs("customer_segments_val").inputs()
    assert "customer_features_val" in upstream
    assert not upstream & LATER


def test_serving_segments_use_the_train_model() -> None:
    node = next(n for n in create_pipeline().nodes if n.name == "assign_segments_serving")
    assert node.inputs[:2] == ["customer_features_serving", "segmentation_model"]


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    tables = generate({"seed": 3, "n_users": 240})
    tx = tables["transactions"].dropna(subset=["user_id"])
    tables["lines"] = tx[(tx["quantity"] > 0) & ~tx["order_id"].str.startswith("C")]
    return tables


def test_stability_metrics(world: dict[str, pd.DataFrame], seg_params: dict[str, Any]) -> None:
    w = world
    feats = customer_features(w["lines"], "2023-10-01", w["users"], w["events"], w["email"])
    model, _ = fit_segmentation(feats, seg_params, seed=0)
    segments = assign_segments(feats, model, seg_params["rules"])
    metrics = measure_stability(
        feats, segments, model, model, w["lines"], w["users"], w["events"], w["email"], None,
        seg_params,
    )  # fmt: skip
    values = {k: v["value"] for k, v in metrics.items()}
    assert all(k.startswith("segmentation/") and v["step"] == 0 for k, v in metrics.items())
    assert values["segmentation/train/n_clusters"] == model.n_clusters
    # planted segments are well separated: reseeding barely moves anyone
    assert values["segmentation/stability/ari_seed_worst"] > 0.8
    assert 0 <= values["segmentation/stability/changed_share_seed_worst"] < 0.1
    # customers compared are those present in both snapshots: bought by a month earlier
    month_ago = pd.Timestamp("2023-10-01") - pd.Timedelta(
        days=seg_params["stability"]["previous_days"]
    )
    first = w["lines"].groupby("user_id")["ts"].min()
    assert values["segmentation/stability/customers_previous_month"] == (first <= month_ago).sum()
    # planted segments persist: a month earlier the same customers are grouped alike
    assert values["segmentation/stability/ari_previous_month"] > 0.8
    assert values["segmentation/stability/changed_share_previous_month"] < 0.1
    shares = [v for k, v in values.items() if "/rule_share/" in k]
    assert sum(shares) == pytest.approx(1.0)
