"""Optuna tuning of one candidate family on rolling validation windows inside train
(never the test window).

One study per family, stored in SQLite (a rerun resumes and only runs the missing trials);
a trial fits its parameters on every window and scores the mean NDCG over them (the
per-window values and their spread are kept); each trial is a nested MLflow run when a run
is active; LightFM reports the last window's NDCG per epoch to the median pruner.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
import optuna

from tailor.progress import TrialProgress
from tailor.recommenders.base import Recommender
from tailor.recommenders.evaluate import score_model, score_next_basket
from tailor.recommenders.priors import is_neutral
from tailor.recommenders.registry import make_candidate, split_prior
from tailor.recommenders.windows import Window, summarise_windows
from tailor.tracking import OptunaMlflowCallback, open_study, study_name, suggest

log = logging.getLogger(__name__)
STUDY_DB = "optuna_recommender.db"  # under tuning.storage_dir, shared by families and blend
PROTOCOLS = ("discovery", "next_basket")


def mlflow_callback(family: str) -> OptunaMlflowCallback:
    """Nested MLflow run per trial: ``<family>.<param>``, ``val/<metric>`` (and per window
    ``val/<metric>_w<i>``), LightFM's validation NDCG per epoch as a history."""
    return OptunaMlflowCallback(
        family,
        metric_prefix="val/",
        param_prefix=f"{family}.",
        step_key="val/ndcg_at_10_by_epoch",
        tags={"family": family},
    )


def family_study_name(family: str, windows: list[Window], cfg: dict[str, Any]) -> str:
    """The one study-naming rule (content hash) over the windows' fit data and the config."""
    data = {f"w{i}_fit": w.fit for i, w in enumerate(windows)}
    labels = [[w.label, len(w.items), len(w.relevant)] for w in windows]
    return study_name(f"recommender-{family}", data, {"windows": labels, **cfg})


def family_timeout(cfg: dict[str, Any], tuning: dict[str, Any]) -> float:
    """Seconds for one family's study: its share of ``tuning.budget_seconds``."""
    return float(tuning["budget_seconds"]) * float(cfg.get("budget_share", 0.1))


class Budget:
    """Stops a study once its seconds are spent: CPU seconds of this process by default
    (``tuning.budget_clock: cpu``), so a busy shared machine runs the same trials as a
    quiet one and the run stays reproducible; ``wall`` counts elapsed time instead."""

    def __init__(self, seconds: float, clock: str = "cpu") -> None:
        if clock not in ("cpu", "wall"):
            raise ValueError(f"recommender.tuning.budget_clock must be cpu or wall, not {clock}")
        self.now = time.process_time if clock == "cpu" else time.perf_counter
        self.seconds = float(seconds)
        self.start = self.now()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self.now() - self.start >= self.seconds:
            study.stop()


def scored_trial(
    params: dict[str, Any], space: dict[str, Any], result: dict[str, Any], target: str
) -> optuna.trial.FrozenTrial:
    """A finished trial of ``params`` (covering ``space``) with a result scored already."""
    fixed = optuna.trial.FixedTrial(params)
    suggest(fixed, space)  # records each parameter's distribution
    return optuna.trial.create_trial(
        params=params,
        distributions=fixed.distributions,
        value=float(result["val_metrics"][target]),
        user_attrs={
            "metrics": result["val_metrics"],
            "windows": result["val_windows"],
            "fit_seconds": 0.0,
            "scored_as": str(result.get("name", "known")),
        },
    )


def run_study(
    study: optuna.Study,
    objective: Any,
    n_trials: int,
    seconds: float,
    tuning: dict[str, Any],
    family: str,
) -> None:
    """``study.optimize`` within ``n_trials`` and the family's budget; every finished trial
    is logged as a nested MLflow run."""
    study.optimize(
        objective,
        n_trials=n_trials,
        callbacks=[
            mlflow_callback(family),
            Budget(seconds, tuning.get("budget_clock", "cpu")),
            TrialProgress(n_trials, f"{family} trials"),
        ],
        # A pruned trial's model is held by its exception's traceback (a reference cycle)
        # until a full collection; one after each trial costs ~0.4 s of CPU on The Complete
        # Journey and bounds what a long study keeps.
        gc_after_trial=True,
    )


def fit_key(window: int, params: dict[str, Any]) -> str:
    """Key of a model fitted on a window in a study's cache: its non-prior parameters
    (a prior is set on a fitted model without refitting it)."""
    model_params, _ = split_prior(params)
    return f"{window}:{json.dumps(model_params, sort_keys=True, default=str)}"


def evaluate_on_windows(
    family: str,
    params: dict[str, Any],
    windows: list[Window],
    ks: list[int],
    seed: int,
    target: str,
    cache: dict[str, Recommender] | None = None,
    on_epoch: Any = None,
    protocol: str = "discovery",
) -> dict[str, Any]:
    """Fit ``params`` on every window and score it: per-window metrics, their mean and
    spread, and the effect of the prior per window (score with it minus without it).
    ``protocol``: ``discovery`` (new items only) or ``next_basket`` (repeats included)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    _, prior = split_prior(params)
    per_window, prior_effect = [], []
    for i, w in enumerate(windows):
        wkey = fit_key(i, params)
        if cache is not None and wkey in cache:
            model = cache[wkey].set_prior(w.fit, prior)
        else:
            model = make_candidate(family, params, seed)
            last = i == len(windows) - 1
            model.fit(w.fit, w.items, w.users, on_epoch=on_epoch if last else None)
            if cache is not None:
                cache[wkey] = model
        if protocol == "next_basket":
            per_window.append(score_next_basket(model, w.basket, w.bought, ks)[0])
            continue
        metrics = score_model(model, w.relevant, ks, w.n_items_all)[0]
        per_window.append(metrics)
        if model.nonnegative_scores and not is_neutral(prior):
            # The same fit without the prior: what the prior adds on this window.
            model.set_prior(w.fit, {})
            k = int(target.rsplit("_", 1)[1])
            plain = score_model(model, w.relevant, [k], w.n_items_all)[0][target]
            model.set_prior(w.fit, prior)
            prior_effect.append(float(metrics[target] - plain))
    out = {
        "val_metrics": summarise_windows(per_window, target),
        "val_windows": [{k: float(v) for k, v in m.items()} for m in per_window],
    }
    if prior_effect:
        out["prior_effect"] = prior_effect
    return out


def tune_family(
    family: str,
    windows: list[Window],
    cfg: dict[str, Any],
    tuning: dict[str, Any],
    seed: int,
    known: list[dict[str, Any]] | None = None,
    best_fits: list[Recommender] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the family's study; trial score = mean target over the windows.

    ``known``: results already scored on these windows (``params``, ``val_metrics``,
    ``val_windows``, e.g. the untuned baselines); a start configuration among them enters
    the study as a finished trial instead of being fitted and scored again. ``best_fits``:
    filled with the best trial's models fitted on each window when this run fitted them
    (the blend reuses them), left empty otherwise.

    Returns the best params, their mean/spread and per-window validation metrics, and the
    per-window effect of the prior of the best trial.
    """
    ks = [int(k) for k in tuning["ks"]]
    target = f"ndcg_at_{int(tuning['target_k'])}"
    fixed = dict(cfg.get("fixed", {}))
    space = dict(cfg.get("space", {}))
    protocol = str(cfg.get("protocol", "discovery"))
    name = family_study_name(
        family,
        windows,
        {"fixed": fixed, "space": space, "seed": seed}
        | ({"protocol": protocol} if protocol != "discovery" else {}),
    )
    study = open_study(
        name,
        tuning.get("storage_dir"),
        STUDY_DB,
        "maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(tuning["startup"])),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=int(tuning["startup"]), n_warmup_steps=int(tuning["warmup_steps"])
        ),
    )
    budget = int(cfg.get("n_trials", tuning["n_trials"]))
    done = [t for t in study.trials if t.state.is_finished()]
    remaining = max(budget - len(done), 0)
    if not done and cfg.get("start"):
        start = {k: v for k, v in cfg["start"].items() if k in space}
        same = [r for r in known or [] if r.get("params") == {**fixed, **start}]
        if same and remaining:
            study.add_trial(scored_trial(start, space, same[0], target))
            log.info("%s: start configuration scored already as %s", family, same[0]["name"])
            remaining -= 1
        else:
            study.enqueue_trial(start)
    prune_every = int(tuning.get("prune_every", 2))
    # Fitted models by (window, non-prior parameters): a trial that only changes a prior
    # reuses the fits (EASE's inverse is the expensive part).
    cache: dict[str, Recommender] = {}
    cache_size = int(tuning.get("fit_cache", 3)) * len(windows)
    last = windows[-1]
    kept: dict[str, Any] = {"number": None, "value": -np.inf, "fits": []}

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **suggest(trial, space)}

        def on_epoch(epoch: int, m: Recommender) -> None:
            # Pruning looks at the last window only (the other windows are already scored).
            if epoch % prune_every:
                return
            value = score_model(m, last.relevant, [int(tuning["target_k"])], last.n_items_all)
            trial.report(value[0][target], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        start = time.perf_counter()
        result = evaluate_on_windows(
            family, params, windows, ks, seed, target, cache, on_epoch, protocol
        )
        metrics = result["val_metrics"]
        if best_fits is not None and metrics[target] > kept["value"]:
            fits = [cache.get(fit_key(i, params)) for i in range(len(windows))]
            kept.update(number=trial.number, value=metrics[target], fits=fits)
        while len(cache) > cache_size:
            cache.pop(next(iter(cache)))
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("windows", result["val_windows"])
        if "prior_effect" in result:
            trial.set_user_attr("prior_effect", result["prior_effect"])
        trial.set_user_attr("fit_seconds", time.perf_counter() - start)
        log.info(
            "%s trial %d: mean %s=%.4f (windows %s) %s (%.1fs)",
            family,
            trial.number,
            target,
            metrics[target],
            ", ".join(f"{w[target]:.4f}" for w in result["val_windows"]),
            params,
            time.perf_counter() - start,
        )
        return metrics[target]

    if remaining:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        run_study(study, objective, remaining, family_timeout(cfg, tuning), tuning, family)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"{family}: no complete trial in study {name}")
    best = study.best_trial
    if best_fits is not None and kept["number"] == best.number and all(kept["fits"]):
        # a later trial may have set another prior on the same fitted models
        _, prior = split_prior({**fixed, **best.params})
        best_fits.extend(
            m.set_prior(w.fit, prior) for m, w in zip(kept["fits"], windows, strict=True)
        )
    effect = best.user_attrs.get("prior_effect")
    log.info(
        "%s: best mean %s=%.4f (windows %s) after %d trials; prior effect per window: %s",
        family,
        target,
        best.value,
        ", ".join(f"{w[target]:.4f}" for w in best.user_attrs["windows"]),
        len(study.trials),
        "neutral prior" if effect is None else ", ".join(f"{e:+.4f}" for e in effect),
    )
    return {
        "family": family,
        "params": {**fixed, **best.params},
        "val_metrics": best.user_attrs["metrics"],
        "val_windows": best.user_attrs["windows"],
        "prior_effect": effect,
        "study": name,
        "n_trials": len(study.trials),
        "n_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
    }
