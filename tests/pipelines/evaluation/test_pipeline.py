"""The evaluation pipeline on an in-memory catalog, and its MLflow outputs."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from tailor.pipelines.evaluation import create_pipeline


class KeptMemoryDataset(MemoryDataset):
    """The runner releases intermediate data after use; the test reads it afterwards."""

    def _release(self) -> None:
        pass


def next_basket_lists(world) -> pd.DataFrame:
    """Next-basket lists: 'served' = the test basket first (an oracle), 'popularity' the
    popular head, 'ptopfreq_default' each user's train items by count."""
    train, test = world["train"], world["test"]
    popular = train["item_id"].value_counts().index[:10].tolist()
    rows = []
    for u in sorted(train["user_id"].unique()):
        basket = sorted(set(test.loc[test["user_id"] == u, "item_id"]))
        own = train.loc[train["user_id"] == u, "item_id"].value_counts().index.tolist()
        for cand, lst in {"served": basket + popular, "popularity": popular,
                          "ptopfreq_default": own}.items():  # fmt: skip
            lst = list(dict.fromkeys(lst))[:20]
            rows += [(cand, u, r + 1, it, 1.0 / (r + 1)) for r, it in enumerate(lst)]
    return pd.DataFrame(rows, columns=["candidate", "user_id", "rank", "item_id", "score"])


def test_pipeline_runs_end_to_end_in_memory(world, eval_params) -> None:
    feeds = {
        "recommendations_test": world["recs"],
        "recommendations_test_nb": next_basket_lists(world),
        "interactions_train": world["train"],
        "interactions_test": world["test"],
        "item_catalog": world["catalog"],
        "customer_features_train": world["features"],
        "customer_segments_train": world["segments"],
        "params:evaluation": eval_params,
        "params:split": {"cutoff": "2023-10-01"},
        "params:seed": 42,
    }
    pipeline = create_pipeline()
    catalog = DataCatalog({name: MemoryDataset(value) for name, value in feeds.items()})
    for name in pipeline.all_outputs():
        catalog[name] = KeptMemoryDataset()
    SequentialRunner().run(pipeline, catalog)

    table = catalog.load("evaluation_table").set_index("candidate")
    assert list(table.index) == ["oracle", "popular", "served"]
    assert table.loc["oracle", "ndcg_at_10"] == pytest.approx(1.0)
    assert table.loc["popular", "ndcg_at_10"] < table.loc["served", "ndcg_at_10"] < 1.0
    for cand in table.index:
        low, high = table.loc[cand, ["ndcg_at_10_ci_low", "ndcg_at_10_ci_high"]]
        assert low <= table.loc[cand, "ndcg_at_10"] <= high

    # served = oracle for UK users, popularity elsewhere: the audit must find that gap
    gaps = catalog.load("evaluation_quality_gaps").set_index(["candidate", "grouping"])
    served_country = gaps.loc[("served", "country_group")]
    assert served_country["best_group"] == "United Kingdom"
    assert served_country["gap"] > 0.5
    assert gaps.loc[("oracle", "country_group"), "gap"] == pytest.approx(0.0)
    tags = catalog.load("evaluation_tags")
    assert tags == catalog.load("evaluation_flags")
    assert tags["fairness.flagged"] == "true" and "country_group" in tags["fairness.flags"]

    metrics = catalog.load("evaluation_metrics")
    assert metrics["test/ndcg_at_10"]["value"] == pytest.approx(table.loc["served", "ndcg_at_10"])
    assert metrics["test/popular/recall_at_20"]["value"] == pytest.approx(
        table.loc["popular", "recall_at_20"]
    )
    assert "test/served/ndcg_at_10" not in metrics
    assert metrics["eval/country_group/united_kingdom/recall_at_10"]["value"] == pytest.approx(1.0)
    assert metrics["eval/fairness/country_group/recall_at_10_gap"]["value"] > 0.5
    # group names go through the project's one slug (tailor.metric_keys)
    assert metrics["eval/rule_segment/at_risk/n_users"]["value"] == 19
    assert "eval/cluster/bargain_hunters/recall_at_10" in metrics
    assert all(set(v) == {"value", "step"} for v in metrics.values())
    assert metrics["eval/protocol/evaluated"]["value"] == 59
    assert metrics["eval/protocol/only_rebought"]["value"] == 1  # u59

    # one child run per candidate, the served model's keys for every one of them
    runs = catalog.load("evaluation_candidate_runs")
    assert set(runs) == set(table.index)
    for cand, run in runs.items():
        assert run["metrics"]["test/ndcg_at_10"] == pytest.approx(table.loc[cand, "ndcg_at_10"])
        assert run["metrics"]["test/recall_at_20"] == pytest.approx(table.loc[cand, "recall_at_20"])
        assert set(run["metrics"]) == set(runs["served"]["metrics"])
        assert run["tags"]["tailor.served"] == str(cand == "served").lower()
    # next-basket protocol: the served oracle list, the best reference, test_nb/ keys
    nb = catalog.load("evaluation_next_basket").set_index("candidate")
    assert nb.loc["served", "ndcg_at_10"] == pytest.approx(1.0)
    assert nb.loc["served", "n_users"] == 60  # u59 (only re-bought) counts here
    ref = nb.loc["served", "reference"]
    assert ref == nb.loc[["popularity", "ptopfreq_default"], "ndcg_at_10"].idxmax()
    assert nb.loc["served", "ndcg_at_10_diff"] == pytest.approx(1.0 - nb.loc[ref, "ndcg_at_10"])
    assert nb.loc[ref, "ndcg_at_10_diff"] == pytest.approx(0.0)
    assert nb.loc["served", "ndcg_at_10_diff_ci_low"] > 0
    assert metrics["test_nb/ndcg_at_10"]["value"] == pytest.approx(1.0)
    assert metrics["test_nb/popularity/ndcg_repeat_at_10"]["value"] == pytest.approx(
        nb.loc["popularity", "ndcg_repeat_at_10"]
    )
    assert metrics["test_nb/ndcg_at_10_diff_vs_reference"]["value"] > 0
    assert "Next-basket protocol" in catalog.load("evaluation_report")
    served_keys = {k for k in metrics if k.startswith("test/") and k.count("/") == 1}
    assert served_keys == set(runs["served"]["metrics"])

    report = catalog.load("evaluation_report")
    assert "| served | 59 |" in report and "95% CI" in report
    assert all(
        isinstance(catalog.load(f"evaluation_{p}_plot"), Figure)
        for p in ("metric_curves", "group_bars", "popularity_bias")
    )
