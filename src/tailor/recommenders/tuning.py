"""Optuna tuning of one candidate family on the fit/validation split (never the test window).

One study per family, stored in SQLite (a rerun resumes and only runs the missing trials);
each trial is a nested MLflow run when a run is active; LightFM reports validation NDCG
per epoch so the median pruner can stop bad trials early.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from tailor.progress import TrialProgress
from tailor.recommenders.base import Recommender
from tailor.recommenders.evaluate import holdout_truth, score_model
from tailor.recommenders.registry import make_candidate, split_prior
from tailor.tracking import OptunaMlflowCallback, study_name, suggest

log = logging.getLogger(__name__)


def mlflow_callback(family: str) -> OptunaMlflowCallback:
    """Nested MLflow run per trial: ``<family>.<param>``, ``val/<metric>``, LightFM's
    validation NDCG per epoch as a history."""
    return OptunaMlflowCallback(
        family,
        metric_prefix="val/",
        param_prefix=f"{family}.",
        step_key="val/ndcg_at_10_by_epoch",
        tags={"family": family},
    )


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
    data = {"fit": fit, "val": val, "items": items}
    name = study_name(f"recommender-{family}", data, {"fixed": fixed, "space": space, "seed": seed})
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
            callbacks=[mlflow_callback(family), TrialProgress(remaining, f"{family} trials")],
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
