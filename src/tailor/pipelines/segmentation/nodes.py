"""Segmentation nodes: choose and fit the clustering, assign segments, profile, measure stability.

Point in time: the validation snapshot gets its own clustering, searched and fitted on the
validation features only (a model fitted on train features would carry information from
after the validation cutoff). The train snapshot's model also assigns the serving snapshot:
it only saw data up to the cutoff, and it is the model evaluation measures.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from tailor.customer_features import customer_features
from tailor.metric_keys import slug
from tailor.segmentation import profiles as prof
from tailor.segmentation.clustering import (
    ClusterModel,
    explain_choice,
    fit_chosen,
    order_clusters,
    rank_candidates,
    search_candidates,
    stable_sample,
)
from tailor.segmentation.features import FeatureSpace, derive, fit_feature_space
from tailor.segmentation.labels import NOISE_LABEL, name_clusters
from tailor.segmentation.rules import assign_rule_segments, describe_rules
from tailor.segmentation.stability import compare

log = logging.getLogger(__name__)

Metrics = dict[str, dict[str, float]]


def _space(features: pd.DataFrame, params: dict[str, Any]) -> FeatureSpace:
    fp = params["features"]
    return fit_feature_space(
        features, fp["columns"], float(fp["min_coverage"]), float(fp["skew_threshold"])
    )


def _fit(
    features: pd.DataFrame, params: dict[str, Any], seed: int, algorithm: str, value: float
) -> tuple[ClusterModel, np.ndarray]:
    """Fit one configuration on ``features``; returns the model and the rows' cluster ids."""
    space = _space(features, params)
    x = space.transform(features)
    centroids, core_points, core_labels = fit_chosen(
        x, algorithm, value, params["clustering"], seed
    )
    model = ClusterModel(space, algorithm, value, centroids, core_points, core_labels)
    assigned = order_clusters(model, model.predict_matrix(x), features[params["order_by"]])
    return model, assigned


def fit_segmentation(
    features: pd.DataFrame, params: dict[str, Any], seed: int
) -> tuple[ClusterModel, pd.DataFrame]:
    """Score every candidate clustering on a seeded sample, choose one, refit it.

    Returns the fitted model (with cluster names and the choice's scores) and the table of
    every candidate's scores, the chosen one first.
    """
    cp = params["clustering"]
    x = _space(features, params).transform(features)
    sample = x[stable_sample(len(x), int(cp["sample_size"]), seed)]
    log.info("searching clusterings on %d of %d customers", len(sample), len(x))
    with threadpool_limits(int(cp["threads"])):
        ranked = rank_candidates(search_candidates(sample, cp, seed), cp)
        log.info("segmentation: %s", explain_choice(ranked, float(cp["max_noise_share"])))
        best = ranked.iloc[0]
        model, assigned = _fit(features, params, seed, str(best["algorithm"]), float(best["value"]))
    derived = derive(features, model.space.expressions)
    named = features.join(derived[[c for c in derived if c not in features]])
    names = name_clusters(named, assigned, model.space.columns)
    model.labels = [names[c] for c in range(model.n_clusters)]
    model.scores = {
        k: float(best[k]) for k in ("n_clusters", "silhouette", "davies_bouldin", "noise_share")
    }
    ranked.insert(0, "as_of", str(pd.to_datetime(features["as_of"]).max()))
    ranked["features"] = ",".join(model.space.columns)
    return model, ranked


def assign_segments(
    features: pd.DataFrame, model: ClusterModel, rules: dict[str, Any]
) -> pd.DataFrame:
    """user_id, cluster_id, cluster_label, rule_segment for every customer of the snapshot."""
    cluster = model.predict(features)
    labels = np.array([*model.labels, NOISE_LABEL], dtype=object)
    out = pd.DataFrame(
        {
            "user_id": features["user_id"].astype(str).to_numpy(),
            "cluster_id": cluster.astype(np.int64),
            "cluster_label": labels[cluster],  # -1 (DBSCAN noise) picks the last entry
            "rule_segment": assign_rule_segments(
                features, rules["segments"], rules["fallback"]
            ).to_numpy(),
        }
    )
    log.info(
        "segments as of %s: clusters %s; rules %s",
        pd.to_datetime(features["as_of"]).max().date(),
        out["cluster_label"].value_counts().to_dict(),
        out["rule_segment"].value_counts().to_dict(),
    )
    return out


def profile_segments(
    segments: pd.DataFrame,
    features: pd.DataFrame,
    lines: pd.DataFrame,
    items: pd.DataFrame,
    rules: dict[str, Any],
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, Figure, Figure]:
    """Profile table and the rule table, plus the size and RFM plots."""
    table = prof.segment_profiles(segments, features, lines, items, int(params["top_n"]))
    rule_table = describe_rules(rules["segments"], rules["fallback"])
    return table, rule_table, prof.plot_sizes(table), prof.plot_rfm(table)


def plot_candidates(candidates: pd.DataFrame, params: dict[str, Any]) -> Figure:
    n = params["clustering"]["n_clusters"]
    return prof.plot_candidates(candidates, (int(n["min"]), int(n["max"])))


def _previous_features(
    features: pd.DataFrame,
    lines: pd.DataFrame,
    users: pd.DataFrame,
    events: pd.DataFrame,
    email: pd.DataFrame,
    campaigns: pd.DataFrame,
    days: int,
) -> pd.DataFrame:
    as_of = pd.to_datetime(features["as_of"]).max() - pd.Timedelta(days=days)
    return customer_features(lines, as_of, users, events, email, campaigns)


def measure_stability(
    features: pd.DataFrame,
    segments: pd.DataFrame,
    model: ClusterModel,
    val_model: ClusterModel,
    lines: pd.DataFrame,
    users: pd.DataFrame,
    events: pd.DataFrame,
    email: pd.DataFrame,
    campaigns: pd.DataFrame,
    params: dict[str, Any],
) -> Metrics:
    """Scores of the chosen clusterings and their stability, as MLflow metrics.

    Seeds: the chosen configuration refitted with each other seed on the same snapshot.
    Previous month: refitted on the features as of ``previous_days`` earlier (only data up
    to then); customers present in both are compared, their cluster then against now.
    """
    sp = params["stability"]
    assigned = segments.set_index("user_id").loc[features["user_id"].astype(str), "cluster_id"]
    now = assigned.to_numpy()
    metrics: dict[str, float] = {f"train/{k}": v for k, v in model.scores.items()}
    metrics |= {f"val/{k}": v for k, v in val_model.scores.items()}
    with threadpool_limits(int(params["clustering"]["threads"])):
        seed_runs = [
            compare(now, _fit(features, params, int(s), model.algorithm, model.value)[1])
            for s in sp["seeds"]
        ]
    for key in ("ari", "changed_share"):
        values = [r[key] for r in seed_runs]
        metrics[f"stability/{key}_seed_mean"] = float(np.mean(values))
        metrics[f"stability/{key}_seed_worst"] = float(min(values) if key == "ari" else max(values))
    prev = _previous_features(
        features, lines, users, events, email, campaigns, int(sp["previous_days"])
    )
    with threadpool_limits(int(params["clustering"]["threads"])):
        _, prev_assigned = _fit(prev, params, int(sp["seeds"][0]), model.algorithm, model.value)
    prev_ids = pd.Series(prev_assigned, index=prev["user_id"].astype(str).to_numpy())
    common = assigned.index.intersection(prev_ids.index)
    month = compare(assigned.loc[common].to_numpy(), prev_ids.loc[common].to_numpy())
    metrics["stability/ari_previous_month"] = month["ari"]
    metrics["stability/changed_share_previous_month"] = month["changed_share"]
    metrics["stability/customers_previous_month"] = float(len(common))
    shares = segments["rule_segment"].value_counts(normalize=True)
    metrics |= {f"train/rule_share/{slug(k)}": float(v) for k, v in shares.items()}
    metrics["train/customers"] = float(len(segments))
    log.info("segmentation stability: %s", {k: round(v, 3) for k, v in metrics.items()})
    return {f"segmentation/{k}": {"value": float(v), "step": 0} for k, v in metrics.items()}
