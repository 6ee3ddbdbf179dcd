"""Nodes of the ``spark_als`` pipeline: Optuna tuning on a shared study, refit, batch top-k.

Tuning fits on ``fit`` and scores on ``validation`` (never test); every trial is a set of
Spark jobs. The study lives in an RDB storage named in conf (SQLite by default; a server
database when several machines tune it), so any number of workers running this node with
the same storage share one study and its trial budget. Evaluation uses the project's one
metrics module and hold-out protocol, next to the ``implicit`` ALS candidate at its
configured start point, fitted and scored in the same run on the same split.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tailor.evaluation.bootstrap import bootstrap_mean_ci
from tailor.item_catalog import items_known_by
from tailor.metrics import lists_from_frame, per_user_ranking_metrics, ranking_metrics
from tailor.recommenders.evaluate import holdout_truth, score_model
from tailor.recommenders.registry import make_candidate
from tailor.recommenders.tuning import mlflow_callback
from tailor.spark.als import fit_als, top_k
from tailor.tracking import suggest

log = logging.getLogger(__name__)
FAMILY = "spark_als"


def _pairs(lines: DataFrame) -> pd.DataFrame:
    return lines.select("user_id", "item_id").distinct().toPandas()


def score_spark_als(
    fitted: Any, relevant: dict[str, set[str]], ks: list[int], n_items: int
) -> tuple[dict[str, float], pd.DataFrame, DataFrame]:
    """(mean metrics, per-user metrics, top-max(ks) table) of a fitted Spark ALS."""
    recs = top_k(fitted, max(ks))
    users = [u for u, items in relevant.items() if items]
    wanted = recs.sparkSession.createDataFrame([(u,) for u in users], "user_id string")
    lists = lists_from_frame(recs.join(F.broadcast(wanted), "user_id").toPandas())
    return (
        ranking_metrics(lists, relevant, ks, n_items),
        per_user_ranking_metrics(lists, relevant, ks),
        recs,
    )


def study_name(fit: DataFrame, val: DataFrame, cfg: dict[str, Any], seed: int) -> str:
    """A fingerprint of the data and search space: the same inputs resume one study."""
    sizes = [fit.count(), str(fit.agg(F.max("ts")).first()[0]), val.count()]
    key = json.dumps({"data": sizes, "space": cfg.get("space"), "fixed": cfg.get("fixed"),
                      "seed": seed}, sort_keys=True, default=str)  # fmt: skip
    return f"{FAMILY}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def tune_spark_als(
    fit: DataFrame, val: DataFrame, cfg: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Run (or join) the shared study until it holds ``n_trials`` finished trials."""
    tuning = cfg["tuning"]
    ks = [int(k) for k in cfg["ks"]]
    target = f"ndcg_at_{int(cfg['target_k'])}"
    relevant = holdout_truth(_pairs(fit), _pairs(val))
    n_items = fit.select("item_id").distinct().count()
    fixed, space = dict(cfg.get("fixed") or {}), dict(cfg.get("space") or {})
    storage = str(tuning["storage"])
    if storage.startswith("sqlite:///"):  # a local SQLite file: its folder must exist
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=str(tuning.get("study_name") or study_name(fit, val, cfg, seed)),
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(tuning["startup"])),
    )
    budget = int(tuning["n_trials"])
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if not study.trials and cfg.get("start"):
        study.enqueue_trial({k: v for k, v in cfg["start"].items() if k in space})
    fit = fit.persist()

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **suggest(trial, space)}
        fitted = fit_als(fit, params, seed)
        metrics, _, _ = score_spark_als(fitted, relevant, ks, n_items)
        fitted.pairs.unpersist()
        trial.set_user_attr("metrics", metrics)
        log.info("spark_als trial %d: %s=%.4f %s", trial.number, target, metrics[target], params)
        return metrics[target]

    done = sum(t.state in finished for t in study.trials)
    if done < budget:
        study.optimize(
            objective,
            n_trials=budget - done,
            timeout=tuning.get("timeout"),
            callbacks=[
                optuna.study.MaxTrialsCallback(budget, states=finished),
                mlflow_callback(FAMILY),
            ],
        )
    best = study.best_trial
    return {
        "study": study.study_name,
        "params": {**fixed, **best.params},
        "val_metrics": dict(best.user_attrs.get("metrics", {})),
        "n_trials": sum(t.state in finished for t in study.trials),
    }


def evaluate_spark_als(
    train: DataFrame,
    test: DataFrame,
    catalog: pd.DataFrame,
    best: dict[str, Any],
    cfg: dict[str, Any],
    reference: dict[str, Any],
    seed: int,
) -> tuple[DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """Refit on train; batch top-k for every user; test metrics next to implicit's ALS."""
    ks = [int(k) for k in cfg["ks"]]
    k_main = int(cfg["target_k"])
    train_pd = train.select("user_id", "item_id", "order_id", "ts").toPandas()
    relevant = holdout_truth(train_pd, _pairs(test))
    items = items_known_by(catalog, train_pd)
    fitted = fit_als(train, best["params"], seed)
    spark_means, spark_users, _ = score_spark_als(fitted, relevant, ks, len(items))
    table = top_k(fitted, int(cfg["k"]))

    ref_params = {**(reference.get("fixed") or {}), **(reference.get("start") or {})}
    model = make_candidate("als", ref_params, seed).fit(train_pd, items)
    ref_means, recs = score_model(model, relevant, ks, len(items))
    ref_users = per_user_ranking_metrics(lists_from_frame(recs), relevant, ks)

    boot = cfg["bootstrap"]
    rows, metrics = [], {}
    for name, means, users in (
        (FAMILY, spark_means, spark_users),
        ("als_reference", ref_means, ref_users),
    ):
        col = f"ndcg_at_{k_main}"
        low, high = bootstrap_mean_ci(
            users[col].to_numpy(), int(boot["n_resamples"]), float(boot["confidence"]), seed
        )
        rows.append({"candidate": name, **{k: means[k] for k in sorted(means)},
                     f"{col}_ci_low": low, f"{col}_ci_high": high})  # fmt: skip
        for key, value in means.items():
            metrics[f"test/{name}/{key}"] = {"value": float(value), "step": 0}
    for key, value in best.get("val_metrics", {}).items():
        metrics[f"val/{FAMILY}/{key}"] = {"value": float(value), "step": 0}
    comparison = pd.DataFrame(rows)
    log.info("spark_als vs implicit ALS on test:\n%s", comparison.to_string(index=False))
    return table, comparison, metrics
