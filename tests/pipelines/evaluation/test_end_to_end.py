"""`kedro run --pipeline evaluation` after the recommender, on the synthetic storefront."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.conftest import ensure_run, run_kedro


def _run(project: Path, pipeline: str, *params: str) -> None:
    extra = ",".join(("synthetic_users=300", *params))
    run_kedro(project, "--env", "synthetic", "--pipeline", pipeline, "--params", extra)


@pytest.fixture(scope="module")
def evaluated(synthetic_project: Path) -> Path:
    """Upstream pipelines once (if another test has not already), then evaluation twice."""
    for pipeline in ("segmentation", "recommender"):
        ensure_run(synthetic_project, pipeline, "synthetic_users=300")
    _run(synthetic_project, "evaluation")
    # a second run with other parameters: the MLflow UI compares the two on the same keys
    _run(synthetic_project, "evaluation", "evaluation.conversion_window_days=14")
    return synthetic_project


@pytest.mark.e2e
def test_table_report_and_plots_are_written(evaluated: Path) -> None:
    reporting = evaluated / "data" / "synthetic" / "08_reporting"
    table = pd.read_csv(reporting / "evaluation.csv").set_index("candidate")
    recs = pd.read_parquet(
        evaluated / "data" / "synthetic" / "07_model_output" / "recommendations_test.parquet"
    )
    assert set(table.index) == set(recs["candidate"].astype(str))
    assert "served" in table.index and len(table) >= 2
    assert (table["ndcg_at_10_ci_low"] <= table["ndcg_at_10"]).all()
    assert (table["ndcg_at_10"] <= table["ndcg_at_10_ci_high"]).all()
    assert (table["n_users"] > 50).all() and table["n_users"].nunique() == 1
    # the recommender scored its candidates with the same metrics module and protocols:
    # the discovery ones against this table, the next-basket ones (repeat-aware sources,
    # mixes; no discovery score) against the next-basket table
    theirs = pd.read_csv(reporting / "recommender_results.csv").set_index("candidate")
    table_nb = pd.read_csv(reporting / "evaluation_next_basket.csv").set_index("candidate")
    for protocol, ours, prefix, keys in (
        ("discovery", table, "test_", ("ndcg_at_10", "recall_at_20", "coverage_at_10")),
        ("next_basket", table_nb, "test_nb_", ("ndcg_at_10", "recall_at_20", "hit_rate_at_10")),
    ):
        scored = theirs[theirs[f"{prefix}ndcg_at_10"].notna()]
        assert "served" in scored.index and set(scored.index) <= set(ours.index), protocol
        for cand in scored.index:
            for key in (*keys, "n_users"):
                assert ours.loc[cand, key] == pytest.approx(scored.loc[cand, f"{prefix}{key}"]), (
                    protocol,
                    cand,
                    key,
                )
    report = (reporting / "evaluation.md").read_text()
    assert "95% CI" in report and "| served |" in report
    for name in ("metric_curves", "group_bars", "popularity_bias"):
        assert (reporting / f"evaluation_{name}.png").stat().st_size > 10_000
    groups = pd.read_csv(reporting / "evaluation_breakdowns.csv")
    # synthetic data: age band and gender groupings as well as segments, country, activity
    assert {"cluster", "rule_segment", "country_group", "age_band", "gender", "activity"} <= set(
        groups["grouping"]
    )


@pytest.mark.e2e
def test_two_runs_compare_in_mlflow_on_the_same_keys(evaluated: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{evaluated / 'mlflow.db'}")
    try:
        runs = mlflow.search_runs(
            experiment_names=["tailor-synthetic"],
            filter_string="metrics.`test/ndcg_at_10` > -1 and tags.`fairness.candidate` = 'served'",
            order_by=["attributes.start_time DESC"],
            max_results=2,
        )
    finally:
        mlflow.set_tracking_uri(None)
    assert len(runs) == 2
    newest, older = runs.iloc[0], runs.iloc[1]
    assert newest["params.evaluation.conversion_window_days"] == "14"
    assert older["params.evaluation.conversion_window_days"] == "30"
    keys = [c for c in runs.columns if c.startswith("metrics.")]
    for key in (
        "test/ndcg_at_10",
        "test/ndcg_at_10_ci_low",
        "eval/fairness/activity/recall_at_10_gap",
    ):
        assert runs[f"metrics.{key}"].notna().all(), key
    assert any(k.startswith("metrics.eval/age_band/") for k in keys)
    # NDCG does not depend on the conversion window; the conversion proxy does
    assert newest["metrics.test/ndcg_at_10"] == pytest.approx(older["metrics.test/ndcg_at_10"])
    assert newest["metrics.test/conversion_at_10"] <= older["metrics.test/conversion_at_10"]
    table = pd.read_csv(evaluated / "data" / "synthetic" / "08_reporting" / "evaluation.csv")
    served = table.set_index("candidate").loc["served"]
    assert newest["metrics.test/ndcg_at_10"] == pytest.approx(served["ndcg_at_10"])
    tags = json.loads(
        (evaluated / "data" / "synthetic" / "08_reporting" / "evaluation_flags.json").read_text()
    )
    assert newest["tags.fairness.flagged"] == tags["fairness.flagged"] in ("true", "false")
