"""Optuna tuning of one candidate family on the fit/validation split (never the test window).

One study per family, stored in SQLite (a rerun resumes and only runs the missing trials);
each trial is a nested MLflow run when a run is active; LightFM reports validation NDCG
per epoch so the median pruner can stop bad trials early.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pandas as pd

from tailor.recommenders.base import Recommender
from tailor.recommenders.evaluate import holdout_truth, score_model
from tailor.recommenders.registry import make_candidate, split_prior

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Parameters from a YAML search space: ``{name: {type, low, high, log, choices}}``."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec["type"]
        if kind == "float":
            out[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=bool(spec.get("log"))
            )
        elif kind == "int":
            out[name] = trial.suggest_int(
                name, spec["low"], spec["high"], log=bool(spec.get("log"))
            )
        elif kind == "categorical":
            out[name] = trial.suggest_categorical(name, spec["choices"])
        else:
            raise ValueError(f"unknown search-space type '{kind}' for {name}")
    return out


class NestedRunCallback:
    """Logs each finished trial as a nested MLflow run (params, metrics, state)."""

    def __init__(self, family: str) -> None:
        self.family = family

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if mlflow.active_run() is None:
            return
        with mlflow.start_run(run_name=f"{self.family}-trial-{trial.number}", nested=True):
            mlflow.set_tags(
                {"family": self.family, "study": study.study_name, "state": trial.state.name}
            )
            mlflow.log_params({f"{self.family}.{k}": v for k, v in trial.params.items()})
            metrics = trial.user_attrs.get("metrics", {})
            mlflow.log_metrics({f"val/{k}": float(v) for k, v in metrics.items()})
            for step, value in trial.intermediate_values.items():
                mlflow.log_metric("val/ndcg_at_10_by_epoch", float(value), step=int(step))


def study_name(
    family: str, fit: pd.DataFrame, val: pd.DataFrame, cfg: dict[str, Any], n_items: int
) -> str:
    """Family + a fingerprint of the data, rankable items and search space: a rerun on the
    same inputs resumes its study, a change of any of them starts a fresh one."""
    key = json.dumps(
        {
            "fit": [len(fit), str(fit["ts"].max())],
            "val": [len(val), str(val["ts"].max())],
            "items": n_items,
            "cfg": cfg,
        },
        sort_keys=True,
        default=str,
    )
    return f"recommender-{family}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def tune_family(
    family: str,
    fit: pd.DataFrame,
    val: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame | None,
    cfg: dict[str, Any],
    tuning: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Run (or resume) the family's study; returns best params and its validation metrics."""
    ks = [int(k) for k in tuning["ks"]]
    target = f"ndcg_at_{int(tuning['target_k'])}"
    relevant = holdout_truth(fit, val)
    n_items = len(items)
    fixed = dict(cfg.get("fixed", {}))
    space = dict(cfg.get("space", {}))
    storage_dir = tuning.get("storage_dir")
    storage = None
    if storage_dir:
        Path(storage_dir).mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{Path(storage_dir) / 'optuna_recommender.db'}"
    name = study_name(family, fit, val, {"fixed": fixed, "space": space, "seed": seed}, n_items)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(tuning["startup"])),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=int(tuning["startup"]), n_warmup_steps=int(tuning["warmup_steps"])
        ),
    )
    budget = int(cfg.get("n_trials", tuning["n_trials"]))
    done = [t for t in study.trials if t.state.is_finished()]
    remaining = max(budget - len(done), 0)
    if not done and cfg.get("start"):
        study.enqueue_trial({k: v for k, v in cfg["start"].items() if k in space})
    prune_every = int(tuning.get("prune_every", 2))
    # Fitted models by their non-prior parameters: a trial that only changes the trend
    # prior reuses the fit (EASE's inverse is the expensive part).
    cache: dict[str, Recommender] = {}
    cache_size = int(tuning.get("fit_cache", 3))

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **suggest(trial, space)}
        model = make_candidate(family, params, seed)

        def on_epoch(epoch: int, m: Recommender) -> None:
            if epoch % prune_every:
                return
            value = score_model(m, relevant, [int(tuning["target_k"])], n_items)[0][target]
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        start = time.perf_counter()
        model_params, prior = split_prior(params)
        key = json.dumps(model_params, sort_keys=True, default=str)
        if key in cache:
            model = cache[key].set_prior(fit, prior)
        else:
            model.fit(fit, items, users, on_epoch=on_epoch)
            if cache_size > 0:
                cache[key] = model
                while len(cache) > cache_size:
                    cache.pop(next(iter(cache)))
        metrics = score_model(model, relevant, ks, n_items)[0]
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("fit_seconds", time.perf_counter() - start)
        log.info(
            "%s trial %d: %s=%.4f %s (%.1fs)",
            family,
            trial.number,
            target,
            metrics[target],
            params,
            time.perf_counter() - start,
        )
        return metrics[target]

    if remaining:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=float(cfg.get("timeout", tuning["timeout"])),
            callbacks=[NestedRunCallback(family)],
            gc_after_trial=True,
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"{family}: no complete trial in study {name}")
    best = study.best_trial
    log.info("%s: best %s=%.4f after %d trials", family, target, best.value, len(study.trials))
    return {
        "family": family,
        "params": {**fixed, **best.params},
        "val_metrics": best.user_attrs["metrics"],
        "study": name,
        "n_trials": len(study.trials),
        "n_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
    }
