"""One writer per MLflow metric key: no two pipelines log the same key (DESIGN.md, Tracking).

Each `kedro run --pipeline X` is one top-level MLflow run named ``X · <env> · <time>``
(tailor.hooks); the runs of the session's synthetic project are grouped by pipeline and
their metric keys compared. Nested runs (Optuna trials, evaluation's per-candidate runs)
repeat their parent's keys on purpose, so they are left out. Ownership: the evaluation
pipeline writes every ``test/*`` key, the recommender ``val/*``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import mlflow
import pytest

from tests.conftest import registered_pipelines, run_kedro

pytestmark = pytest.mark.e2e

SMALL = "synthetic_users=300"
# budgets of tests/pipelines/forecasting: the keys do not depend on the trial count
EXTRA = {
    "forecasting": ",forecasting.demand.tuning.n_trials=3,forecasting.demand.validation.n_folds=2"
}
# Reference implementations of a step (issue #26: the pandas data engineering the Ibis one
# is measured against): run instead of that step, never beside it.
REFERENCES = {"data_engineering_pandas": "data_engineering"}


def _pipelines() -> list[str]:
    """Every registered pipeline with nodes in the synthetic environment."""
    return sorted(n for n, nodes in registered_pipelines().items() if n != "__default__" and nodes)


def _top_level_runs(project: Path) -> list[mlflow.entities.Run]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tailor-synthetic")
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id], max_results=5000)
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def _pipeline_of(run: mlflow.entities.Run) -> str:
    return (run.info.run_name or "").split(" · ")[0]


@pytest.fixture(scope="module")
def keys_by_pipeline(synthetic_project: Path) -> dict[str, set[str]]:
    """Metric keys of each pipeline's own runs; a pipeline no other test ran is run here."""
    pipelines = _pipelines()
    ran = {_pipeline_of(r) for r in _top_level_runs(synthetic_project)}
    # upstream first, so each pipeline finds its inputs (registry order is alphabetical)
    order = ["data_engineering", "segmentation", "recommender", "forecasting", "evaluation"]
    for name in sorted(pipelines, key=lambda n: order.index(n) if n in order else len(order)):
        if name not in ran:
            params = SMALL + EXTRA.get(name, "")
            run_kedro(
                synthetic_project, "--env", "synthetic", "--pipeline", name, "--params", params
            )
    keys: dict[str, set[str]] = {name: set() for name in pipelines}
    for run in _top_level_runs(synthetic_project):
        if _pipeline_of(run) in keys:  # a run of several pipelines belongs to none of them
            keys[_pipeline_of(run)] |= set(run.data.metrics)
    return keys


def test_every_pipeline_logs_metrics(keys_by_pipeline: dict[str, set[str]]) -> None:
    """The check below compares real key sets, not empty ones."""
    silent = {name for name, keys in keys_by_pipeline.items() if not keys}
    assert not silent, f"pipelines without metrics in their runs: {sorted(silent)}"
    assert {"test/ndcg_at_10", "test/popularity/ndcg_at_10"} <= keys_by_pipeline["evaluation"]
    assert "val/ndcg_at_10" in keys_by_pipeline["recommender"]


def test_no_two_pipelines_write_the_same_metric_key(
    keys_by_pipeline: dict[str, set[str]],
) -> None:
    shared = {
        (a, b): sorted(keys_by_pipeline[a] & keys_by_pipeline[b])
        for a, b in itertools.combinations(sorted(keys_by_pipeline), 2)
        if REFERENCES.get(a) != b and REFERENCES.get(b) != a
    }
    shared = {pair: keys for pair, keys in shared.items() if keys}
    assert not shared, "\n".join(
        f"{a} and {b} both write {len(keys)} keys, e.g. {keys[:5]}"
        for (a, b), keys in shared.items()
    )


def test_a_reference_pipeline_writes_the_keys_of_the_step_it_is(
    keys_by_pipeline: dict[str, set[str]],
) -> None:
    """The pandas reference is the same step as data_engineering, in another engine: it
    writes the same keys (so a run of either is one writer), never an extra one."""
    for ref, step in REFERENCES.items():
        assert keys_by_pipeline[ref] == keys_by_pipeline[step], (ref, step)


def test_the_recommender_leaves_test_keys_to_evaluation(
    keys_by_pipeline: dict[str, set[str]],
) -> None:
    owners = {
        name: sorted(k for k in keys if k.startswith("test/"))
        for name, keys in keys_by_pipeline.items()
        if name != "evaluation"
    }
    assert not any(owners.values()), {n: k[:5] for n, k in owners.items() if k}
