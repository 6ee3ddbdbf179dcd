"""Nodes of the recommender pipeline (pure functions; I/O in the catalog).

Tuning and selection see only the rolling validation windows carved from train (fit data,
truth and user attributes as of each window's start); the test window enters only
``refit_and_score``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import optuna
import pandas as pd

from tailor.item_catalog import items_known_by
from tailor.metrics import lists_from_frame, next_basket_metrics, ranking_metrics
from tailor.progress import progress
from tailor.recommenders.base import Recommender
from tailor.recommenders.blend import BlendRecommender
from tailor.recommenders.blend_tuning import blend_candidates, blend_lists
from tailor.recommenders.champion import comparison_window, decide, window_score
from tailor.recommenders.evaluate import discovery_lists, holdout_truth, next_basket_truth
from tailor.recommenders.mix_tuning import best_source, mix_name, tune_mixes
from tailor.recommenders.mixed import KINDS, MixedRecommender
from tailor.recommenders.registry import make_candidate
from tailor.recommenders.selection import choose_served
from tailor.recommenders.tuning import (
    STUDY_DB,
    evaluate_on_windows,
    family_study_name,
    family_timeout,
    run_study,
    tune_family,
)
from tailor.recommenders.windows import (
    Window,
    make_windows,
    rankable_items,
    restrict,
    summarise_windows,
    window_bounds,
    window_features,
)
from tailor.tracking import open_study

log = logging.getLogger(__name__)
FAMILIES = ["popularity", "ease", "als", "item_knn", "content", "lightfm"]
# Repeat-aware families, tuned on the next-basket protocol (recommender.families.<f>.protocol).
REPEAT_FAMILIES = ["ptopfreq", "tifu_knn", "due_again"]
PROTOCOLS = ("next_basket", "discovery")
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


def validation_windows(
    train: pd.DataFrame,
    bounds_of_split: dict[str, str],
    items: pd.DataFrame,
    features: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
) -> list[Window]:
    """The rolling validation windows inside train (see ``windows.py``).

    ``bounds_of_split`` (``split_bounds``): the cut-off and the test window's end, the
    default window length; no test-window row is read. ``items``: the catalog as of the
    cut-off. User attributes are rebuilt as of each window's start from the window's own
    fit lines plus the static columns of ``features``.
    """
    cfg = params["validation"]
    test_end = bounds_of_split["test_end"]
    bounds = window_bounds(
        split["cutoff"],
        train["ts"].min(),
        pd.Timestamp(test_end),
        int(cfg["n_windows"]),
        cfg.get("window_days"),
        cfg.get("min_fit_days"),
    )
    no_segments = pd.DataFrame({"user_id": pd.Series(dtype=str)})

    def users_at(fit: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        return user_attributes(window_features(features, fit, as_of), no_segments, params)

    return make_windows(train, items, bounds, int(params["min_item_buyers"]), users_at)


def train_user_attributes(
    train: pd.DataFrame, features: pd.DataFrame, split: dict[str, Any], params: dict[str, Any]
) -> pd.DataFrame:
    """User attributes as of the cutoff, built exactly as the windows build theirs."""
    return users_as_of(train, features, pd.Timestamp(split["cutoff"]), params)


def enabled(params: dict[str, Any], name: str) -> bool:
    """Whether candidate ``name`` competes (``recommender.candidates``: null = every one;
    the selection baseline always competes: it is the floor)."""
    chosen = params.get("candidates")
    if chosen is None or name == params["selection"]["baseline"]:
        return True
    return name in ([chosen] if isinstance(chosen, str) else list(chosen))


def competing(tuned: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The tuned families that competed (``enabled``), by output name."""
    return {OUTPUT_NAME.get(t["family"], t["family"]): t for t in tuned if t.get("enabled", True)}


def make_tune_node(family: str):
    def tune_node(
        windows: list[Window], params: dict[str, Any], seed: int, *untuned: dict[str, Any]
    ) -> dict[str, Any]:
        """One Optuna study for ``family``, scored on the validation windows; an untuned
        baseline (``untuned``) with the start configuration is its first trial, not
        scored twice."""
        if not enabled(params, OUTPUT_NAME.get(family, family)):
            return {"family": family, "enabled": False}
        known = [
            {"name": name, **r}
            for u in untuned
            for name, r in u.items()
            if r.get("family") == family
        ]
        return tune_family(
            family, windows, params["families"][family], params["tuning"], seed, known
        )

    tune_node.__name__ = f"tune_{family}"
    return tune_node


def make_tune_fits_node(family: str):
    def tune_node(
        windows: list[Window], params: dict[str, Any], seed: int
    ) -> tuple[dict[str, Any], list[Recommender]]:
        """One Optuna study for ``family``, scored on the validation windows; also the best
        trial's fits per window (empty if not fitted in this run), which the blend reuses."""
        if not enabled(params, OUTPUT_NAME.get(family, family)):
            return {"family": family, "enabled": False}, []
        fits: list[Recommender] = []
        spec = tune_family(
            family, windows, params["families"][family], params["tuning"], seed, best_fits=fits
        )
        return spec, fits

    tune_node.__name__ = f"tune_{family}"
    return tune_node


def validate_untuned(windows: list[Window], params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The untuned baselines (popularity and each family's plain version) on the windows:
    they compete in selection like the tuned candidates."""
    return _validate(params["baselines"], windows, params, seed, "discovery")


def validate_untuned_next_basket(
    windows: list[Window], params: dict[str, Any], seed: int
) -> tuple[dict[str, Any], dict[str, list[Recommender]]]:
    """The next-basket baselines (popularity, P-TopFreq, TIFU-KNN, due again, untuned) on
    the windows under the next-basket protocol: the floor and the repeat sources. Also
    their fits per window: the mixes reuse the chosen source's instead of refitting it."""
    fits: dict[str, list[Recommender]] = {}
    out = _validate(params["next_basket"]["baselines"], windows, params, seed, "next_basket", fits)
    return out, fits


def _validate(
    baselines: dict[str, Any],
    windows: list[Window],
    params: dict[str, Any],
    seed: int,
    protocol: str,
    fits: dict[str, list[Recommender]] | None = None,
) -> dict[str, Any]:
    ks = [int(k) for k in params["tuning"]["ks"]]
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    out = {}
    for name, spec in baselines.items():
        if protocol == "discovery" and not enabled(params, name):
            continue
        start = time.perf_counter()
        cache: dict[str, Recommender] = {}
        result = evaluate_on_windows(
            spec["family"],
            spec.get("params", {}),
            windows,
            ks,
            seed,
            target,
            cache=cache,
            protocol=protocol,
        )
        if fits is not None:
            fits[name] = list(cache.values())  # one per window, oldest first
        out[name] = {"family": spec["family"], "params": dict(spec.get("params", {})), **result}
        log.info(
            "untuned %s (%s): mean %s=%.4f (windows %s, %.1fs)",
            name,
            protocol,
            target,
            result["val_metrics"][target],
            ", ".join(f"{w[target]:.4f}" for w in result["val_windows"]),
            time.perf_counter() - start,
        )
    return out


def tune_blend(
    windows: list[Window], params: dict[str, Any], seed: int, *tuned_then_fits: Any
) -> tuple[dict[str, Any], list[list[Recommender]]]:
    """Blend of the two best families (mean over windows): weight and method tuned by
    Optuna on the same windows. The components are fitted once per window (or taken from
    their study's best trial: ``tuned_then_fits`` holds the tuned families, then their fits
    in the same order); trials only recombine their scores on each user's candidate items.
    Also returns the components' fits (per window, in order): a mix over the blend reuses
    them."""
    half = len(tuned_then_fits) // 2
    tuned, fits_of = tuned_then_fits[:half], tuned_then_fits[half:]
    study_fits = {
        t["family"]: f for t, f in zip(tuned, fits_of, strict=True) if len(f) == len(windows)
    }
    cfg = params["blend"]
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    off: dict[str, Any] = {"family": "blend", "enabled": False}
    if not enabled(params, "blend"):
        return off, []
    ranked = sorted(competing(tuned).values(), key=lambda t: -t["val_metrics"][target])
    ranked = [t for t in ranked if t["family"] != "popularity"][: int(cfg["top"])]
    if not cfg["enabled"] or len(ranked) < 2:
        return off, []
    ks = [int(k) for k in params["tuning"]["ks"]]
    prepared, fitted = [], []
    for i, w in enumerate(windows):
        comps = [
            study_fits[t["family"]][i]
            if t["family"] in study_fits
            else make_candidate(t["family"], t["params"], seed).fit(w.fit, w.items, w.users)
            for t in ranked
        ]
        fitted.append(comps)
        prepared.append(
            blend_candidates(
                comps,
                sorted(w.relevant),
                cfg["methods"],
                float(cfg["rrf_k"]),
                int(cfg["candidates"]),
            )
        )

    def evaluate(method: str, weight: float) -> dict[str, Any]:
        per_window = []
        for w, prep in zip(windows, prepared, strict=True):
            recs = blend_lists(prep, method, [weight, 1 - weight], max(ks))
            per_window.append(ranking_metrics(recs, w.relevant, ks, w.n_items_all))
        return {"val_metrics": summarise_windows(per_window, target), "val_windows": per_window}

    def objective(trial: optuna.Trial) -> float:
        method = trial.suggest_categorical("method", list(cfg["methods"]))
        weight = trial.suggest_float("weight", 0.0, 1.0)
        result = evaluate(method, weight)
        trial.set_user_attr("metrics", result["val_metrics"])
        trial.set_user_attr("windows", result["val_windows"])
        log.info(
            "blend trial %d: mean %s=%.4f (%s, w=%.2f)",
            trial.number,
            target,
            result["val_metrics"][target],
            method,
            weight,
        )
        return result["val_metrics"][target]

    tuning = params["tuning"]
    name = family_study_name(
        "blend",
        windows,
        {**cfg, "seed": seed, "parts": [[t["family"], t["params"]] for t in ranked]},
    )
    study = open_study(
        name, tuning.get("storage_dir"), STUDY_DB, "maximize", optuna.samplers.TPESampler(seed=seed)
    )
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    run_study(
        study,
        objective,
        max(int(cfg["n_trials"]) - done, 0),
        family_timeout(cfg, tuning),
        tuning,
        "blend",
    )
    best = study.best_trial
    spec = {
        "family": "blend",
        "enabled": True,
        "components": [{"family": t["family"], "params": t["params"]} for t in ranked],
        "params": {
            "method": best.params["method"],
            "weights": [best.params["weight"], 1 - best.params["weight"]],
        },
        "val_metrics": best.user_attrs["metrics"],
        "val_windows": best.user_attrs["windows"],
        "n_trials": len(study.trials),
    }
    return spec, fitted


def select_served(
    params: dict[str, Any], untuned: dict[str, Any], blend: dict[str, Any], *tuned: dict[str, Any]
) -> dict[str, Any]:
    """The served candidate, chosen on the validation windows only (``selection.py``)."""
    candidates = competing(tuned)
    if blend.get("enabled"):
        candidates["blend"] = blend
    candidates.update(untuned)
    sel = params["selection"]
    return choose_served(
        candidates,
        baseline=str(sel["baseline"]),
        target=f"ndcg_at_{int(params['tuning']['target_k'])}",
        min_window_ratio=float(sel["min_window_ratio"]),
        simplest_first=list(sel.get("simplest_first") or []),
        one_se=bool(sel.get("one_se", True)),
    )


def _discovery_specs(
    untuned: dict[str, Any], blend: dict[str, Any], tuned: tuple[dict[str, Any], ...]
) -> dict[str, dict[str, Any]]:
    specs = {**untuned, **competing(tuned)}
    if blend.get("enabled"):
        specs["blend"] = blend
    return specs


def _repeat_sources(
    untuned_nb: dict[str, Any], repeat_tuned: tuple[dict[str, Any], ...], params: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The repeat sources a mix can use: the untuned next-basket baselines (not the floor)
    first, then the tuned repeat families, simplest first."""
    floor = params["next_basket"]["baseline"]
    out = {n: s for n, s in untuned_nb.items() if n != floor}
    out.update({t["family"]: t for t in repeat_tuned if t.get("enabled", True)})
    return out


def tune_next_basket(
    windows: list[Window],
    params: dict[str, Any],
    seed: int,
    selection: dict[str, Any],
    untuned: dict[str, Any],
    blend: dict[str, Any],
    blend_fits: list[list[Recommender]],
    untuned_nb: dict[str, Any],
    untuned_nb_fits: dict[str, list[Recommender]],
    *tuned: dict[str, Any],
) -> dict[str, Any]:
    """The best repeat source on the validation windows (by its own mean next-basket
    target) mixed with the discovery choice (``mix_tuning``); ``tuned`` holds the discovery
    families then the repeat families. One source, not each: the mixes of weaker sources
    cost a refit and a test scoring each and were never chosen. The windows' fits of the
    blend's components and of the untuned sources are reused, not refitted."""
    discovery, repeat = tuned[: len(FAMILIES)], tuned[len(FAMILIES) :]
    explore_spec = _discovery_specs(untuned, blend, discovery)[selection["candidate"]]
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    sources = _repeat_sources(untuned_nb, repeat, params)
    best = best_source(sources, target)
    min_buyers = int(params["min_item_buyers"])
    if selection["candidate"] == "blend" and blend_fits:
        weights, method = explore_spec["params"]["weights"], explore_spec["params"]["method"]
        explore = [
            BlendRecommender.from_fitted(comps, weights, method=method, seed=seed)
            for comps in blend_fits
        ]
    else:
        explore = [
            fit_spec(explore_spec, w.fit, w.items, w.users, min_buyers, seed) for w in windows
        ]
    mixes = tune_mixes(
        windows,
        explore,
        {best: sources[best]},
        params["next_basket"]["mix"],
        [int(k) for k in params["tuning"]["ks"]],
        target,
        seed,
        fitted={best: untuned_nb_fits[best]} if best in untuned_nb_fits else None,
    )
    for m in mixes.values():
        m["explore"] = {
            k: explore_spec[k] for k in ("family", "params", "components") if k in explore_spec
        }
        m["explore_candidate"] = selection["candidate"]
    return mixes


def select_next_basket(
    params: dict[str, Any],
    untuned_nb: dict[str, Any],
    mixes: dict[str, Any],
    *repeat_tuned: dict[str, Any],
) -> dict[str, Any]:
    """The next-basket choice on the validation windows: the mixes compete with the
    next-basket popularity floor under the same rules as discovery (never below it on a
    window, one-standard-error rule; simplest: ``first`` before ``constant`` before
    ``propensity``, untuned sources before tuned ones)."""
    nb, sel = params["next_basket"], params["selection"]
    floor = nb["baseline"]
    sources = list(_repeat_sources(untuned_nb, repeat_tuned, params))
    order = [mix_name(kind, src) for kind in KINDS for src in sources]
    out = choose_served(
        {floor: untuned_nb[floor], **mixes},
        baseline=floor,
        target=f"ndcg_at_{int(params['tuning']['target_k'])}",
        min_window_ratio=float(sel["min_window_ratio"]),
        simplest_first=order,
        one_se=bool(sel.get("one_se", True)),
    )
    log.info("next-basket choice: %s (%s)", out["candidate"], out["reason"])
    return out


def _fit_timed(
    model: Recommender, train: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame
) -> tuple[Recommender, float]:
    start = time.perf_counter()
    fitted = model.fit(train, items, users)
    return fitted, time.perf_counter() - start


def _metric_entries(prefix: str, values: dict[str, float]) -> dict[str, dict[str, float]]:
    return {
        f"{prefix}/{k}": {"value": float(v), "step": 0} for k, v in values.items() if k != "n_users"
    }


def refit_and_score(
    train: pd.DataFrame,
    test: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    selection: dict[str, Any],
    untuned: dict[str, Any],
    blend: dict[str, Any],
    nb_selection: dict[str, Any],
    untuned_nb: dict[str, Any],
    mixes: dict[str, Any],
    *tuned: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any], Recommender, dict[str, Any]]:
    """Refit every candidate (tuned, untuned, blend, repeat sources, mixes) on train; score
    them on test under the discovery protocol and the repeat-aware ones under the
    next-basket protocol.

    The served model is what validation chose (``selection.protocol``: the next-basket
    choice, a mix of a repeat source with the discovery choice, or the discovery choice
    alone); the test numbers never choose anything. Returns recommendations_test,
    recommendations_test_nb, the results table, MLflow metrics, the served model and its
    description.
    """
    ks = [int(k) for k in params["ks"]]
    top_k = max(int(params["top_k"]), *ks)
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    discovery_tuned, repeat_tuned = tuned[: len(FAMILIES)], tuned[len(FAMILIES) :]
    relevant = holdout_truth(train, test)
    basket, bought = next_basket_truth(train, test)
    nb_users = sorted(basket)
    n_all = len(items_known_by(items, train))
    items = rankable_items(items, train, int(params["min_item_buyers"]))
    fit_lines = restrict(train, items)
    n_items = len(items)
    log.info("rankable items: %d of %d sold by the cutoff", n_items, n_all)
    specs: dict[str, dict[str, Any]] = {**untuned, **competing(discovery_tuned)}
    fitted: dict[str, Recommender] = {}
    rows: dict[str, dict[str, Any]] = {}
    recs, nb_recs = [], []
    metrics: dict[str, Any] = {}

    def row_of(name: str, seconds: float) -> dict[str, Any]:
        if name not in rows:
            rows[name] = {"candidate": name, "fit_seconds": round(seconds, 2)}
        return rows[name]

    def log_val(name: str, prefix: str, spec: dict[str, Any] | None, row: dict[str, Any]):
        val = (spec or {}).get("val_metrics", {})
        windows = (spec or {}).get("val_windows", [])
        row.update({f"{prefix}_{k}": v for k, v in val.items() if k != "n_users"})
        row.update({f"{prefix}_w{i}_{target}": w[target] for i, w in enumerate(windows)})
        metrics.update(_metric_entries(f"{prefix}/{name}", val))
        if windows:
            metrics[f"{prefix}/{name}/{target}_by_window"] = [
                {"value": float(w[target]), "step": i} for i, w in enumerate(windows)
            ]

    disc_lists: dict[str, pd.DataFrame] = {}
    nb_lists: dict[str, pd.DataFrame] = {}

    def record(
        name: str,
        model: Recommender,
        seconds: float,
        spec: dict[str, Any] | None,
        full: pd.DataFrame | None = None,
    ):
        if full is None:
            full = discovery_lists(model, sorted(relevant), top_k)
        disc_lists[name] = full
        # coverage_at_k over every item sold by the cutoff (as the evaluation pipeline),
        # coverage_rankable_at_k over the rankable ones
        test_metrics = ranking_metrics(lists_from_frame(full), relevant, ks, n_all)
        for k in ks:
            cov = test_metrics[f"coverage_at_{k}"]
            test_metrics[f"coverage_rankable_at_{k}"] = cov * n_all / max(n_items, 1)
        recs.append(full.assign(candidate=name))
        row = row_of(name, seconds)
        log_val(name, "val", spec, row)
        row.update({f"test_{k}": v for k, v in test_metrics.items()})
        if (spec or {}).get("prior_effect"):
            row["prior_effect_by_window"] = ", ".join(f"{e:+.4f}" for e in spec["prior_effect"])
            metrics[f"val/{name}/prior_effect_by_window"] = [
                {"value": float(e), "step": i} for i, e in enumerate(spec["prior_effect"])
            ]
        # test/* keys are the evaluation pipeline's (one writer per key); the test scores
        # stay in the results table, an artefact of this run.
        metrics[f"train_seconds/{name}"] = {"value": float(seconds), "step": 0}
        log.info("%s: test %s=%.4f (fit %.1fs)", name, target, test_metrics[target], seconds)
        return test_metrics

    def record_nb(name: str, lists: pd.DataFrame, seconds: float, spec: dict[str, Any] | None):
        """Score ``lists`` (top-k of every next-basket user) under the next-basket protocol."""
        nb_lists[name] = lists
        test_metrics = next_basket_metrics(lists_from_frame(lists), basket, bought, ks)
        nb_recs.append(lists[["user_id", "rank", "item_id", "score"]].assign(candidate=name))
        row = row_of(name, seconds)
        log_val(name, "val_nb", spec, row)
        row.update({f"test_nb_{k}": v for k, v in test_metrics.items()})
        metrics[f"train_seconds/{name}"] = {"value": float(seconds), "step": 0}
        log.info("%s: test next-basket %s=%.4f", name, target, test_metrics[target])
        return test_metrics

    for name, spec in progress(specs.items(), "refit on train", unit="model"):
        model, secs = _fit_timed(
            make_candidate(spec["family"], spec.get("params", {}), seed), fit_lines, items, users
        )
        fitted[name] = model
        record(name, model, secs, spec)
    if blend.get("enabled"):
        comps = [fitted[OUTPUT_NAME.get(c["family"], c["family"])] for c in blend["components"]]
        model = BlendRecommender.from_fitted(
            comps, blend["params"]["weights"], method=blend["params"]["method"], seed=seed
        )
        fitted["blend"] = model
        specs["blend"] = blend
        record("blend", model, 0.0, blend)
    discovery_choice = selection["candidate"]
    # next-basket protocol: the floor and the repeat sources alone (their own fill), the
    # discovery choice's list as it is served today, every mix
    nb_specs = {**untuned_nb, **_repeat_sources({}, repeat_tuned, params)}
    repeat_models: dict[str, Recommender] = {}
    # a tuned family whose best configuration is its untuned baseline's is that model
    by_config: dict[str, tuple[Recommender, float, pd.DataFrame]] = {}
    for name, spec in nb_specs.items():
        config = json.dumps([spec["family"], spec.get("params", {})], sort_keys=True)
        if config not in by_config:
            model, secs = _fit_timed(
                make_candidate(spec["family"], spec.get("params", {}), seed),
                fit_lines,
                items,
                users,
            )
            by_config[config] = (model, secs, model.recommend(nb_users, top_k, exclude=False))
        model, secs, lists = by_config[config]
        repeat_models[name] = model
        record_nb(name, lists, secs, spec)
    explore_nb = fitted[discovery_choice].recommend(nb_users, top_k, exclude=True)
    record_nb(f"{discovery_choice}_discovery", explore_nb, 0.0, None)
    repeat_nb: dict[str, pd.DataFrame] = {}
    for name, spec in mixes.items():
        model = MixedRecommender.from_fitted(
            fitted[discovery_choice], repeat_models[spec["source"]], spec["mix"], fit_lines, seed
        )
        fitted[name] = model
        specs[name] = spec
        # the mixes share the explore list and their source's repeat lists: merged once each
        if spec["source"] not in repeat_nb:
            repeat_nb[spec["source"]] = model.repeat_lists(nb_users, top_k)
        lists = model.merged_top(explore_nb, repeat_nb[spec["source"]], nb_users, top_k)
        record_nb(name, lists, 0.0, spec)
    protocol = str(params["selection"].get("protocol", "next_basket"))
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"recommender.selection.protocol must be one of {PROTOCOLS}, not {protocol!r}"
        )
    if protocol == "next_basket" and not nb_selection.get("fallback"):
        served_name = nb_selection["candidate"]
    elif protocol == "next_basket":
        served_name = nb_selection["candidate"]  # the next-basket floor
        fitted[served_name] = repeat_models[served_name]
        specs[served_name] = untuned_nb[served_name]
    else:
        served_name = discovery_choice
    served = fitted[served_name]
    spec = specs[served_name]
    # the served lists were scored above (a mix's discovery view is its explore part,
    # the discovery choice's own list); the floor's discovery list is scored anew only
    # when no discovery candidate has its name
    test_served = record(
        SERVED,
        served,
        0.0,
        specs[discovery_choice],
        disc_lists.get(discovery_choice if served_name in mixes else served_name),
    )
    # what the shop serves: the discovery choice excludes past items, the next-basket
    # floor (popularity) does not, a mix brings them back through its repeat part; each
    # of these lists was scored above
    scored_as = served_name if served_name != discovery_choice else f"{served_name}_discovery"
    nb_served = record_nb(SERVED, nb_lists[scored_as], 0.0, spec if served_name in mixes else None)
    metrics.update(_metric_entries("val", specs[discovery_choice]["val_metrics"]))
    if served_name in mixes:
        metrics.update(_metric_entries("val_nb", spec["val_metrics"]))
    table = pd.DataFrame(list(rows.values()))
    table["served"] = table["candidate"] == served_name
    info = {
        "candidate": served_name,
        "protocol": protocol,
        "family": spec["family"],
        "params": spec.get("params", {}),
        "components": spec.get("components"),
        "val_metrics": spec["val_metrics"],
        "val_windows": spec.get("val_windows"),
        "test_metrics": test_served,
        "test_nb_metrics": nb_served,
        "selection": selection if served_name == discovery_choice else nb_selection,
        "discovery_selection": selection,
        "next_basket_selection": nb_selection,
        "as_of": str(served.as_of),
        "n_users": len(served.user_ids),
        "n_items": served.n_items,
        "n_items_all": n_all,
    }
    if served_name in mixes:
        info.update({k: spec[k] for k in ("source", "source_spec", "mix", "explore")})
        info["explore_candidate"] = discovery_choice
    log.info(
        "served (%s protocol): %s (val mean %s=%.4f; test discovery %.4f, next-basket %.4f)%s",
        protocol,
        served_name,
        target,
        spec["val_metrics"][target],
        test_served[target],
        nb_served[target],
        " -- popularity fallback: no candidate beat it on validation"
        if info["selection"].get("fallback")
        else "",
    )
    cols = ["candidate", "user_id", "rank", "item_id", "score"]
    out = pd.concat(recs, ignore_index=True)[cols]
    out_nb = pd.concat(nb_recs, ignore_index=True)[cols]
    return out, out_nb, table, metrics, served, info


def fit_spec(
    spec: dict[str, Any],
    lines: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    min_buyers: int,
    seed: int,
) -> Recommender:
    """Fit a selected configuration (``family``, ``params``, a blend's ``components``, a
    mix's ``explore``, ``source_spec`` and ``mix``) on
    ``lines``, ranking the items rankable as of their end: the one way a choice is refitted."""
    items = rankable_items(items, lines, min_buyers)
    lines = restrict(lines, items)
    if spec["family"] == "mixed":
        explore = fit_spec(spec["explore"], lines, items, users, min_buyers, seed)
        src = spec["source_spec"]
        repeat = make_candidate(src["family"], src.get("params", {}), seed).fit(lines, items, users)
        return MixedRecommender.from_fitted(explore, repeat, spec["mix"], lines, seed)
    if spec["family"] != "blend":
        return make_candidate(spec["family"], spec.get("params", {}), seed).fit(lines, items, users)
    comps = [
        make_candidate(c["family"], c["params"], seed).fit(lines, items, users)
        for c in spec["components"]
    ]
    p = spec["params"]
    return BlendRecommender.from_fitted(comps, p["weights"], method=p["method"], seed=seed)


def users_as_of(
    lines: pd.DataFrame, features: pd.DataFrame, as_of: pd.Timestamp, params: dict[str, Any]
) -> pd.DataFrame:
    """User attributes as of ``as_of``, built as the validation windows build theirs."""
    no_segments = pd.DataFrame({"user_id": pd.Series(dtype=str)})
    return user_attributes(window_features(features, lines, as_of), no_segments, params)


def refit_for_serving(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    features: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    info: dict[str, Any],
) -> tuple[Recommender, dict[str, Any]]:
    """The chosen configuration refitted on all the data (hyper-parameters and epochs as
    chosen on validation): what is registered and served. The evaluation report keeps
    describing the cut-off model."""
    lines = interactions.astype({"user_id": str, "item_id": str})
    as_of = pd.Timestamp(lines["ts"].max())
    users = users_as_of(lines, features, as_of, params)
    model = fit_spec(info, lines, items, users, int(params["min_item_buyers"]), seed)
    out = {
        **info,
        "as_of": str(model.as_of),
        "fitted_on": f"every interaction up to {model.as_of}",
        "n_users": len(model.user_ids),
        "n_items": model.n_items,
        "cutoff_model": {"as_of": info["as_of"], "test_metrics": info["test_metrics"]},
    }
    log.info("serving refit of %s on %d lines up to %s", info["candidate"], len(lines), as_of)
    return model, out


def challenge_champion(
    champion: dict[str, Any] | None,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    features: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    info: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Champion vs this run's choice on the data after the champion's ``as_of`` (see
    ``tailor.recommenders.champion``); returns the decision and its MLflow metrics."""
    target_k = int(params["tuning"]["target_k"])
    target = f"ndcg_at_{target_k}"
    window = None
    data_end = pd.Timestamp(interactions["ts"].max())
    if champion is not None and pd.Timestamp(champion["as_of"]) <= data_end:
        lines = interactions.astype({"user_id": str, "item_id": str})
        as_of = pd.Timestamp(champion["as_of"])
        before, relevant = comparison_window(lines, as_of)
        min_users = int(params["registry"]["min_window_users"])
        if len(relevant) >= min_users and len(before):
            users = users_as_of(before, features, as_of, params)
            challenger = fit_spec(info, before, items, users, int(params["min_item_buyers"]), seed)
            n_all = len(items_known_by(items, before))
            window = {
                "start": str(as_of),
                "end": str(data_end),
                "n_users": len(relevant),
                "challenger": window_score(challenger, relevant, target_k, n_all),
                "champion": window_score(champion["model"], relevant, target_k, n_all),
            }
        else:
            log.info(
                "comparison window after %s has %d buyers (< %d): validation decides",
                as_of,
                len(relevant),
                min_users,
            )
    decision = decide(champion, window, float(info["val_metrics"][target]), data_end)
    log.info("champion/challenger: %s", decision["reason"])
    metrics = {"registry/promoted": {"value": float(decision["promote"]), "step": 0}}
    for key in ("champion_score", "challenger_score"):
        if decision.get(key) is not None:
            name = f"registry/{key.split('_')[0]}_{decision['comparison']}_{target}"
            metrics[name] = {"value": float(decision[key]), "step": 0}
    return decision, metrics


def registration(
    model: Recommender,
    info: dict[str, Any],
    decision: dict[str, Any],
    items: pd.DataFrame,
    params: dict[str, Any],
) -> dict[str, Any]:
    """What the registry dataset registers (the serving refit) and the alias it moves."""
    target = f"ndcg_at_{int(params['tuning']['target_k'])}"
    selection = info.get("selection", {})
    if selection.get("fallback"):
        log.warning("served popularity: %s", selection["reason"])
    return {
        "model": model,
        "items": items,
        "info": info,
        "decision": decision,
        "val_score": float(info["val_metrics"][target]),
    }
