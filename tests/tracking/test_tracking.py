"""The tracking module on a real SQLite MLflow store and real Optuna storage: one search-space
grammar, one study-naming rule, one trial callback, candidate child runs."""

from __future__ import annotations

from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient

from tailor.recommenders.tuning import tune_family
from tailor.recommenders.windows import make_windows, window_bounds
from tailor.tracking import (
    CANDIDATE_TAG,
    MlflowChildRunsDataset,
    OptunaMlflowCallback,
    study_name,
    suggest,
)
from tests.recommenders.conftest import planted_interactions, planted_items, planted_users


@pytest.fixture
def store(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("tracking-test")
    yield MlflowClient(tracking_uri=uri)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_one_grammar_for_every_study() -> None:
    space = {
        "lam": {"type": "categorical", "choices": [150, 300]},
        "rate": {"type": "float", "low": 0.01, "high": 0.1, "log": True},
        "epochs": {"type": "int", "low": 2, "high": 6},
        "mode": {"choices": ["additive", "multiplicative"]},  # type omitted: categorical
        "scale": {"low": "1e-3", "high": 1.0},  # type omitted: float; YAML text is cast
    }
    params = suggest(optuna.create_study().ask(), space)
    assert params["lam"] in (150, 300) and params["mode"] in ("additive", "multiplicative")
    assert 0.01 <= params["rate"] <= 0.1 and 0.001 <= params["scale"] <= 1.0
    assert isinstance(params["epochs"], int) and 2 <= params["epochs"] <= 6
    for bad, message in [
        ({"x": {"type": "float", "low": 1.0}}, "'x': float needs 'low' and 'high'"),
        ({"x": {"choices": []}}, "'x': categorical needs"),
        ({"x": {"type": "uniform", "low": 0, "high": 1}}, "unknown type 'uniform'"),
        ({"x": {"low": 0, "high": 1, "lgo": True}}, "unknown keys ['lgo']"),
        ({"x": {"low": 2, "high": 1}}, "low 2.0 > high 1.0"),
    ]:
        with pytest.raises(ValueError, match=None) as err:
            suggest(optuna.create_study().ask(), bad)
        assert message in str(err.value)


def test_study_name_follows_content_not_shape() -> None:
    data = planted_interactions()
    name = study_name("recommender-ease", {"fit": data}, {"lam": 300})
    assert name == study_name("recommender-ease", {"fit": data.copy()}, {"lam": 300})
    changed = data.copy()
    changed.loc[5, "item_id"] = changed.loc[6, "item_id"]  # same rows, dates and columns
    assert study_name("recommender-ease", {"fit": changed}, {"lam": 300}) != name
    assert study_name("recommender-ease", {"fit": data}, {"lam": 600}) != name
    assert study_name("recommender-als", {"fit": data}, {"lam": 300}) != name
    assert name.startswith("recommender-ease-")


def _windows(inter: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame) -> list:
    bounds = window_bounds(
        inter["ts"].min() + pd.Timedelta(days=170), inter["ts"].min(), inter["ts"].max(), 2,
        30, 30,
    )  # fmt: skip
    return make_windows(inter, items, bounds, 1, lambda fit, as_of: users)


def test_changed_data_of_the_same_shape_gets_a_new_stored_study(tmp_path: Path) -> None:
    inter = planted_interactions()
    items, users = planted_items(), planted_users(inter)
    cfg = {
        "n_trials": 2,
        "budget_share": 1.0,
        "space": {"scope": {"type": "categorical", "choices": ["global", "country"]}},
    }
    tuning = {
        "ks": [10], "target_k": 10, "n_trials": 2, "budget_seconds": 600, "startup": 1,
        "warmup_steps": 1, "storage_dir": str(tmp_path),
    }  # fmt: skip
    first = tune_family("popularity", _windows(inter, items, users), cfg, tuning, seed=1)
    again = tune_family("popularity", _windows(inter, items, users), cfg, tuning, seed=1)
    assert again["study"] == first["study"] and again["n_trials"] == first["n_trials"] == 2

    # the same shape (rows, columns, dates) with one early purchase moved to another item
    moved = inter.copy()
    row = moved["ts"].idxmin()
    moved.loc[row, "item_id"] = next(i for i in items["item_id"] if i != moved.loc[row, "item_id"])
    assert moved.shape == inter.shape and moved["ts"].max() == inter["ts"].max()
    fresh = tune_family("popularity", _windows(moved, items, users), cfg, tuning, seed=1)
    assert fresh["study"] != first["study"] and fresh["n_trials"] == 2
    storage = f"sqlite:///{tmp_path / 'optuna_recommender.db'}"
    assert set(optuna.get_all_study_names(storage)) == {first["study"], fresh["study"]}


def test_each_trial_is_a_nested_run_with_params_and_metrics(store: MlflowClient) -> None:
    callback = OptunaMlflowCallback(
        "ease", metric_prefix="val/", param_prefix="ease.", step_key="val/ndcg_by_epoch",
        value_key="val/objective", tags={"family": "ease"},
    )  # fmt: skip

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in (1, 2):
            trial.report(x * step, step)
        trial.set_user_attr("metrics", {"ndcg_at_10": x / 2})
        return x

    study = optuna.create_study(study_name="s1", direction="maximize")
    with mlflow.start_run(run_name="parent") as parent:
        study.optimize(objective, n_trials=3, callbacks=[callback])
    exp = parent.info.experiment_id
    trials = store.search_runs([exp], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(trials) == 3
    by_name = {r.info.run_name: r for r in trials}
    for t in study.trials:
        run = by_name[f"ease-trial-{t.number}"]
        assert float(run.data.params["ease.x"]) == pytest.approx(t.params["x"])
        assert run.data.metrics["val/ndcg_at_10"] == pytest.approx(t.params["x"] / 2)
        assert run.data.metrics["val/objective"] == pytest.approx(t.value)
        history = store.get_metric_history(run.info.run_id, "val/ndcg_by_epoch")
        assert [m.step for m in history] == [1, 2]
        assert [m.value for m in history] == pytest.approx([t.params["x"], 2 * t.params["x"]])
        assert run.data.tags["study"] == "s1" and run.data.tags["state"] == "COMPLETE"
        assert run.data.tags["kind"] == "optuna-trial" and run.data.tags["family"] == "ease"


def test_candidates_become_child_runs_with_identical_keys(store: MlflowClient) -> None:
    payload = {
        "ease": {"metrics": {"test/ndcg_at_10": 0.21, "test/recall_at_10": 0.3}},
        "popularity": {
            "metrics": {"test/ndcg_at_10": 0.11, "test/recall_at_10": 0.2},
            "tags": {"tailor.served": False},
        },
    }
    dataset = MlflowChildRunsDataset(kind="candidate-evaluation")
    dataset.save(payload)  # no active run: nothing written, no error
    assert store.search_runs([store.get_experiment_by_name("tracking-test").experiment_id]) == []
    with mlflow.start_run(run_name="parent") as parent:
        dataset.save(payload)
        assert mlflow.active_run().info.run_id == parent.info.run_id  # parent still active
    children = store.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    got = {r.data.tags[CANDIDATE_TAG]: r for r in children}
    assert set(got) == {"ease", "popularity"}
    for name, run in got.items():
        assert run.info.run_name == name and run.info.status == "FINISHED"
        assert run.data.metrics == pytest.approx(payload[name]["metrics"])
        assert run.data.tags["kind"] == "candidate-evaluation"
    assert got["popularity"].data.tags["tailor.served"] == "False"


def test_ui_links_open_the_runs_table_of_each_experiment(store: MlflowClient) -> None:
    from tailor.tracking import runs_page_urls

    exp = store.get_experiment_by_name("tracking-test")
    urls = runs_page_urls(mlflow.get_tracking_uri(), "http://127.0.0.1:5000/")
    assert urls == {
        "tracking-test": f"http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs"
        "?workflowType=machine_learning"
    }  # the empty Default experiment is left out
