"""The next-basket candidates on the validation windows: each repeat source mixed with the
discovery choice (``mixed.py``), one candidate per (source, kind) with its best setting of
the small grid in ``recommender.next_basket.mix``; the same windows, truth and metrics as
everything else, never the test window."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tailor.metrics import lists_from_frame, next_basket_metrics
from tailor.recommenders.base import Recommender
from tailor.recommenders.mixed import KINDS, MixedRecommender, merge, mix_weights, repeat_counts
from tailor.recommenders.registry import make_candidate
from tailor.recommenders.windows import Window, summarise_windows

log = logging.getLogger(__name__)


def mix_grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every mix setting to try: ``first``; ``constant`` per value; ``propensity`` per
    (bias, shrink); all with the configured ``rrf_k``."""
    rrf_k = float(cfg.get("rrf_k", 1.0))
    out: list[dict[str, Any]] = [{"kind": "first", "rrf_k": rrf_k}]
    out += [{"kind": "constant", "value": float(v), "rrf_k": rrf_k} for v in cfg["constant"]]
    out += [
        {"kind": "propensity", "bias": float(b), "shrink": float(a), "rrf_k": rrf_k}
        for b in cfg["bias"]
        for a in cfg["shrink"]
    ]
    return out


def best_source(sources: dict[str, dict[str, Any]], target: str) -> str:
    """The repeat source with the best mean ``target`` over the windows, alone (ties: the
    first, i.e. the simplest): the one the mixes use."""
    best = max(sources, key=lambda name: sources[name]["val_metrics"][target])
    log.info(
        "next-basket repeat source: %s (mean %s=%.4f)",
        best,
        target,
        sources[best]["val_metrics"][target],
    )
    return best


def mix_name(kind: str, source: str) -> str:
    """Output name of a mix candidate, e.g. ``mix_propensity_ptopfreq``."""
    return f"mix_{kind}_{source}"


def tune_mixes(
    windows: list[Window],
    explore_models: list[Recommender],
    sources: dict[str, dict[str, Any]],
    cfg: dict[str, Any],
    ks: list[int],
    target: str,
    seed: int,
    fitted: dict[str, list[Recommender]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``name -> {family: mixed, source, source_spec, mix, val_metrics, val_windows}`` for
    every (source, kind); ``explore_models[i]`` is the discovery choice fitted on window i,
    ``fitted[source][i]`` the source fitted on window i where it already is."""
    grid = mix_grid(cfg)
    k = max(ks)
    scores: dict[tuple[str, int], list[dict[str, float]]] = {}
    for i, (w, explore) in enumerate(zip(windows, explore_models, strict=True)):
        users = sorted(w.basket)
        explore_lists = explore.recommend(users, k, exclude=True)
        counts = repeat_counts(w.fit)
        for name, spec in sources.items():
            if fitted and name in fitted:
                repeat = fitted[name][i]
            else:
                repeat = make_candidate(spec["family"], spec.get("params", {}), seed)
                repeat = repeat.fit(w.fit, w.items, w.users)
            mixer = MixedRecommender.from_fitted(explore, repeat, grid[0], w.fit, seed)
            repeat_lists = mixer.repeat_lists(users, k)
            for g, setting in enumerate(grid):
                merged = merge(
                    explore_lists,
                    repeat_lists,
                    users,
                    mix_weights(counts, users, setting),
                    setting["rrf_k"],
                )
                lists = lists_from_frame(merged)
                metrics = next_basket_metrics(lists, w.basket, w.bought, ks)
                scores.setdefault((name, g), []).append(metrics)
    out: dict[str, dict[str, Any]] = {}
    for name, spec in sources.items():
        for kind in KINDS:
            tried = [g for g, s in enumerate(grid) if s["kind"] == kind]
            means = [np.mean([m[target] for m in scores[(name, g)]]) for g in tried]
            g = tried[int(np.argmax(means))]
            per_window = scores[(name, g)]
            out[mix_name(kind, name)] = {
                "family": "mixed",
                "source": name,
                "source_spec": {"family": spec["family"], "params": spec.get("params", {})},
                "mix": grid[g],
                "params": grid[g],
                "val_metrics": summarise_windows(per_window, target),
                "val_windows": [{m: float(v) for m, v in x.items()} for x in per_window],
            }
            log.info(
                "next-basket %s: mean %s=%.4f (windows %s) %s",
                mix_name(kind, name),
                target,
                out[mix_name(kind, name)]["val_metrics"][target],
                ", ".join(f"{x[target]:.4f}" for x in per_window),
                grid[g],
            )
    return out
