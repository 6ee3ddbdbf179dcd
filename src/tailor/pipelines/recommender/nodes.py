"""Nodes of the recommender pipeline (pure functions; I/O in the catalog).

Tuning nodes see only ``interactions_fit``/``interactions_val`` and features as of the
validation cutoff; the test window enters only ``refit_and_score``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd

from tailor.item_catalog import items_known_by
from tailor.metrics import lists_from_frame, ranking_metrics
from tailor.progress import TrialProgress, progress
from tailor.recommenders.base import Recommender
from tailor.recommenders.blend import BlendRecommender, normalise
from tailor.recommenders.champion import promote
from tailor.recommenders.evaluate import holdout_truth
from tailor.recommenders.pyfunc import pyfunc_kwargs
from tailor.recommenders.registry import make_candidate
from tailor.recommenders.tuning import mlflow_callback, tune_family
from tailor.tracking import study_name

log = logging.getLogger(__name__)
FAMILIES = ["popularity", "ease", "als", "item_knn", "content", "lightfm"]
# Name of a tuned family in the outputs (``popularity`` is the untuned baseline's name).
OUTPUT_NAME = {"popularity": "popularity_tuned"}
SERVED = "served"


def user_attributes(
    features: pd.DataFrame, segments: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Categorical user attributes (string columns) for LightFM and group popularity:
    the configured categorical columns, quantile bands of numeric ones, and segments."""
    cfg = params["user_attributes"]
    frame = features.astype({"user_id": str}).drop_duplicates("user_id").set_index("user_id")
    out = pd.DataFrame(index=frame.index)
    for col in cfg["categorical"]:
        if col in frame.columns:
            out[col] = frame[col].astype("string")
    for col, n_bands in cfg["numeric_bands"].items():
        if col in frame.columns and frame[col].notna().sum() >= n_bands:
            ranks = frame[col].rank(method="first")
            out[f"{col}_band"] = pd.qcut(ranks, int(n_bands), labels=False).astype("string")
    if not segments.empty:
        seg = segments.astype({"user_id": str}).drop_duplicates("user_id").set_index("user_id")
        for col in cfg["segment_columns"]:
            if col in seg.columns:
                out[col] = seg[col].astype("string").reindex(out.index)
    return out.reset_index()


def make_tune_node(family: str):
    def tune_node(
        fit: pd.DataFrame,
        val: pd.DataFrame,
        items: pd.DataFrame,
        users: pd.DataFrame,
        params: dict[str, Any],
        seed: int,
    ) -> dict[str, Any]:
        """One Optuna study for ``family`` on the fit/validation split."""
        return tune_family(
            family,
            fit,
            val,
            items_known_by(items, fit),
            users,
            params["families"][family],
            params["tuning"],
            seed,
        )

    tune_node.__name__ = f"tune_{family}"
    return tune_node


def _blend_weights(parts: list[np.ndarray], method: str, rrf_k: float, w: float) -> np.ndarray:
    return w * normalise(parts[0], method, rrf_k) + (1 - w) * normalise(parts[1], method, rrf_k)


def tune_blend(
    fit: pd.DataFrame,
    val: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    *tuned: dict[str, Any],
) -> dict[str, Any]:
    """Blend of the two best families on validation: weight and method tuned by Optuna.

    The components are fitted once on the fit split; trials only recombine their scores.
    """
    cfg = params["blend"]
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    ranked = sorted(tuned, key=lambda t: -t["val_metrics"][target])
    ranked = [t for t in ranked if t["family"] != "popularity"][: int(cfg["top"])]
    if not cfg["enabled"] or len(ranked) < 2:
        return {"family": "blend", "enabled": False}
    items = items_known_by(items, fit)
    relevant = holdout_truth(fit, val)
    users_eval = sorted(relevant)
    comps = [make_candidate(t["family"], t["params"], seed).fit(fit, items, users) for t in ranked]
    parts, bought = [], None
    for c in comps:
        s, bought = c.score(users_eval)
        parts.append(s)
    ks = [int(k) for k in params["tuning"]["ks"]]
    item_ids = comps[0].item_ids

    def evaluate(method: str, w: float) -> dict[str, float]:
        s = _blend_weights(parts, method, float(cfg["rrf_k"]), w)
        s[bought.nonzero()] = -np.inf
        top = np.argsort(-s, axis=1, kind="stable")[:, : max(ks)]
        recs = {u: list(item_ids[top[i]]) for i, u in enumerate(users_eval)}
        return ranking_metrics(recs, relevant, ks, len(items))

    def objective(trial: optuna.Trial) -> float:
        method = trial.suggest_categorical("method", list(cfg["methods"]))
        w = trial.suggest_float("weight", 0.0, 1.0)
        metrics = evaluate(method, w)
        trial.set_user_attr("metrics", metrics)
        log.info(
            "blend trial %d: %s=%.4f (%s, w=%.2f)", trial.number, target, metrics[target], method, w
        )
        return metrics[target]

    name = study_name(
        "recommender-blend", {"fit": fit, "val": val}, {**cfg, "seed": seed, "parts": ranked}
    )
    study = optuna.create_study(
        study_name=name, direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
    )
    study.optimize(
        objective,
        n_trials=int(cfg["n_trials"]),
        timeout=float(cfg["timeout"]),
        callbacks=[mlflow_callback("blend"), TrialProgress(int(cfg["n_trials"]), "blend trials")],
    )
    best = study.best_trial
    return {
        "family": "blend",
        "enabled": True,
        "components": [{"family": t["family"], "params": t["params"]} for t in ranked],
        "params": {
            "method": best.params["method"],
            "weights": [best.params["weight"], 1 - best.params["weight"]],
        },
        "val_metrics": best.user_attrs["metrics"],
        "n_trials": len(study.trials),
    }


def _fit_timed(
    model: Recommender, train: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame
) -> tuple[Recommender, float]:
    start = time.perf_counter()
    fitted = model.fit(train, items, users)
    return fitted, time.perf_counter() - start


def refit_and_score(
    train: pd.DataFrame,
    test: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    *tuned: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], Recommender, dict[str, Any]]:
    """Refit every family's best config and the baselines on train; score on test.

    The served model is the best on VALIDATION (the test numbers never choose anything).
    Returns recommendations_test, the results table, MLflow metrics, the served model and
    its description.
    """
    ks = [int(k) for k in params["ks"]]
    top_k = max(int(params["top_k"]), *ks)
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    relevant = holdout_truth(train, test)
    items = items_known_by(items, train)
    n_items = len(items)
    by_family = {t["family"]: t for t in tuned}
    fitted: dict[str, Recommender] = {}
    rows, recs, metrics = [], [], {}

    def record(name: str, model: Recommender, seconds: float, val: dict[str, float] | None):
        full = model.recommend(sorted(relevant), top_k)
        test_metrics = ranking_metrics(lists_from_frame(full), relevant, ks, n_items)
        recs.append(full.assign(candidate=name))
        rows.append(
            {
                "candidate": name,
                "fit_seconds": round(seconds, 2),
                **{f"val_{k}": v for k, v in (val or {}).items() if k != "n_users"},
                **{f"test_{k}": v for k, v in test_metrics.items()},
            }
        )
        for k, v in test_metrics.items():
            if k != "n_users":
                metrics[f"test/{name}/{k}"] = {"value": float(v), "step": 0}
        for k, v in (val or {}).items():
            if k != "n_users":
                metrics[f"val/{name}/{k}"] = {"value": float(v), "step": 0}
        metrics[f"train_seconds/{name}"] = {"value": float(seconds), "step": 0}
        log.info("%s: test %s=%.4f (fit %.1fs)", name, target, test_metrics[target], seconds)
        return test_metrics

    for name, spec in params["baselines"].items():
        model, secs = _fit_timed(
            make_candidate(spec["family"], spec.get("params", {}), seed), train, items, users
        )
        record(name, model, secs, None)
    for family in progress(FAMILIES, "refit on train", unit="family"):
        t = by_family[family]
        model, secs = _fit_timed(make_candidate(family, t["params"], seed), train, items, users)
        fitted[family] = model
        record(OUTPUT_NAME.get(family, family), model, secs, t["val_metrics"])
    choices = {f: by_family[f]["val_metrics"][target] for f in FAMILIES}
    blend = by_family.get("blend", {})
    if blend.get("enabled"):
        comps = [fitted[c["family"]] for c in blend["components"]]
        model = BlendRecommender.from_fitted(
            comps, blend["params"]["weights"], method=blend["params"]["method"], seed=seed
        )
        record("blend", model, 0.0, blend["val_metrics"])
        fitted["blend"] = model
        choices["blend"] = blend["val_metrics"][target]
    served_name = max(choices, key=lambda n: (choices[n], n != "blend"))
    served = fitted[served_name]
    val_served = (blend if served_name == "blend" else by_family[served_name])["val_metrics"]
    test_served = record(SERVED, served, 0.0, val_served)
    for k, v in test_served.items():
        if k != "n_users":
            metrics[f"test/{k}"] = {"value": float(v), "step": 0}
    for k, v in val_served.items():
        if k != "n_users":
            metrics[f"val/{k}"] = {"value": float(v), "step": 0}
    table = pd.DataFrame(rows)
    table["served"] = table["candidate"] == OUTPUT_NAME.get(served_name, served_name)
    info = {
        "candidate": served_name,
        "params": blend["params"] if served_name == "blend" else by_family[served_name]["params"],
        "components": blend.get("components") if served_name == "blend" else None,
        "val_metrics": val_served,
        "test_metrics": test_served,
        "val_choices": choices,
        "as_of": str(served.as_of),
        "n_users": len(served.user_ids),
        "n_items": served.n_items,
    }
    log.info(
        "served: %s (val %s=%.4f, test %.4f)",
        served_name,
        target,
        choices[served_name],
        test_served[target],
    )
    out = pd.concat(recs, ignore_index=True)[["candidate", "user_id", "rank", "item_id", "score"]]
    return out, table, metrics, served, info


def bundle_payload(model: Recommender, info: dict[str, Any], items: pd.DataFrame) -> dict[str, Any]:
    """What the bundle dataset writes (model, item catalog, metadata)."""
    return {"model": model, "items": items, "meta": info}


def register_served_model(
    model: Recommender, info: dict[str, Any], items: pd.DataFrame, params: dict[str, Any]
) -> dict[str, Any]:
    """Log the served model as one pyfunc in the active run, register it and apply the
    champion/challenger rule on validation NDCG@10."""
    cfg = params["registry"]
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    if mlflow.active_run() is None or not cfg["enabled"]:
        log.warning("no active MLflow run or registry disabled: model not registered")
        return {"registered": False}
    with tempfile.TemporaryDirectory() as tmp:
        logged = mlflow.pyfunc.log_model(
            name=cfg["artifact_name"],
            registered_model_name=cfg["model_name"],
            **pyfunc_kwargs(model, items, info, Path(tmp)),
        )
    version = str(logged.registered_model_version)
    decision = promote(
        mlflow.MlflowClient(), cfg["model_name"], version, float(info["val_metrics"][target])
    )
    mlflow.set_tags(
        {
            "recommender.served": info["candidate"],
            "recommender.version": version,
            "recommender.alias": decision["alias"],
            "recommender.alias_reason": decision["reason"],
        }
    )
    return {"registered": True, "model_uri": logged.model_uri, **decision}
