"""Serving nodes: the champion and the pipelines' outputs -> the four BentoML models.

Every table comes from the catalog and every score from the training code: candidates
from the registered champion's pyfunc, popularity from ``PopularityRecommender``, item
neighbours from the content recommender's TF-IDF (``text_vectors``/``nearest_items``).
Users forgotten since the last data-engineering run leave every packaged table here.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tailor.recommenders.content import nearest_items, text_vectors
from tailor.recommenders.popularity import PopularityRecommender

log = logging.getLogger(__name__)


def forgotten(suppression: pd.DataFrame | None) -> set[str]:
    """Ids on the suppression list (read as text by the catalog)."""
    if suppression is None or suppression.empty or "user_id" not in suppression:
        return set()
    return set(suppression["user_id"].astype(str))


def without(frame: pd.DataFrame | None, gone: set[str]) -> pd.DataFrame | None:
    """``frame`` minus the rows of forgotten users."""
    if frame is None or not gone or "user_id" not in frame:
        return frame
    return frame[~frame["user_id"].astype(str).isin(gone)].reset_index(drop=True)


def _present(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """An optional table: None when absent (an optional dataset loads as an empty frame)."""
    return None if frame is None or frame.empty else frame


def user_table(
    features: pd.DataFrame,
    segments: pd.DataFrame | None,
    raw_users: pd.DataFrame | None,
    segment_column: str,
) -> tuple[pd.DataFrame, str]:
    """One row per known user: country, segment (with its source), cluster, consent."""
    users = features[["user_id", "country"]].astype({"user_id": str})
    source = "missing: one segment 'all'"
    if segments is not None and not segments.empty:
        seg = segments.astype({"user_id": str})
        users = users.merge(seg, on="user_id", how="outer")
        col = next((c for c in (segment_column, "cluster_label") if c in seg), None)
        if col is not None:
            users["segment"] = users[col].fillna("all").astype(str)
            source = f"customer_segments_serving.{col}"
    for col in ("cluster_id", "cluster_label", "rule_segment", "segment"):
        if col not in users:
            users[col] = "all" if col == "segment" else None
    users["consent"] = True
    if raw_users is not None and "consent" in raw_users:
        off = raw_users.loc[~raw_users["consent"].astype(bool), "user_id"].astype(str)
        extra = pd.DataFrame({"user_id": sorted(set(off) - set(users["user_id"]))})
        users = pd.concat([users, extra], ignore_index=True)
        users["consent"] = ~users["user_id"].isin(set(off))
        users["segment"] = users["segment"].fillna("all")
    cols = ["user_id", "country", "segment", "cluster_id", "cluster_label", "rule_segment"]
    return users[[*cols, "consent"]], source


def serving_profiles(
    interactions: pd.DataFrame,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    raw_users: pd.DataFrame,
    suppression: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], str]:
    """(interactions, users, profile model, segments' source) without forgotten users."""
    gone = forgotten(suppression)
    lines = without(interactions.astype({"user_id": str, "item_id": str}), gone)
    users, source = user_table(
        without(features, gone), without(_present(segments), gone), _present(raw_users),
        params["segment_column"],
    )  # fmt: skip
    users = without(users, gone)
    bought = (
        lines.groupby(["user_id", "item_id"])
        .agg(n_orders=("order_id", "nunique"), first_ts=("ts", "min"), last_ts=("ts", "max"))
        .reset_index()
    )
    model = {
        "files": {"users.parquet": users, "bought.parquet": bought},
        "metadata": {"users": len(users), "segments": source},
    }
    return lines, users, model, source


def champion_candidates(
    champion: dict[str, Any] | None,
    lines: pd.DataFrame,
    features: pd.DataFrame,
    suppression: pd.DataFrame,
    params: dict[str, Any],
    chunk: int = 2000,
) -> pd.DataFrame:
    """The champion's top-``candidate_pool`` for every known user, through its pyfunc."""
    if champion is None:
        raise ValueError(
            "no registered model holds the 'champion' alias: run `kedro run --pipeline "
            "recommender` (with MLflow tracking) before packaging"
        )
    gone = forgotten(suppression)
    known = sorted((set(features["user_id"].astype(str)) | set(lines["user_id"])) - gone)
    pool = int(params["candidate_pool"])
    parts = [
        champion["pyfunc"].predict(
            pd.DataFrame({"user_id": known[i : i + chunk], "k": pool, "recent_items": ""})
        )
        for i in range(0, len(known), chunk)
    ]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out = out.astype({"user_id": str, "item_id": str})
    log.info("candidates of %s for %d users", champion["uri"], len(known))
    return out[["user_id", "rank", "item_id", "score"]]


def popularity_table(
    lines: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, days: int, seed: int
) -> pd.DataFrame:
    """Distinct recent buyers per item, overall and per country and segment, as the
    popularity recommender ranks them (``PopularityRecommender.ranking_table``)."""
    attrs = users[["user_id", "country", "segment"]].drop_duplicates("user_id")
    frames = []
    for scope in ("country", "segment"):
        model = PopularityRecommender(seed=seed, scope=scope, days=days).fit(lines, items, attrs)
        table = model.ranking_table(scope)
        frames.append(table if not frames else table[table["scope"] != "global"])
    return pd.concat(frames, ignore_index=True)[["scope", "key", "item_id", "score"]]


def serving_catalog(
    items: pd.DataFrame,
    lines: pd.DataFrame,
    users: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """The catalog model: items, content neighbours, popularity tables."""
    items = items.astype({"item_id": str})
    vectors = text_vectors(items, items["item_id"].to_numpy(), int(params["tfidf_max_features"]))
    return {
        "files": {
            "items.parquet": items,
            "neighbors.npz": nearest_items(vectors, int(params["neighbours"])),
            "popularity.parquet": popularity_table(
                lines, items, users, int(params["popularity_days"]), seed
            ),
        },
        "metadata": {"items": len(items)},
    }


def serving_recommender(
    champion: dict[str, Any],
    candidates: pd.DataFrame,
    lines: pd.DataFrame,
    params: dict[str, Any],
    sources: dict[str, str],
) -> dict[str, Any]:
    """The recommender model: the champion's precomputed candidates and which registered
    model version they come from. The pyfunc itself stays in the registry: the service
    never loads it (its answers are the candidates), and it was most of the bento's size."""
    registry = {
        "model_name": champion["name"],
        "model_version": champion["version"],
        "alias": champion["alias"],
        "run_id": champion["run_id"],
        "model_uri": champion["uri"],
        "model_as_of": champion["as_of"],
        "candidate": champion["tags"].get("candidate"),
    }
    meta = {
        "as_of": str(lines["ts"].max()),
        "params": params,
        "sources": {"recommender": champion["uri"], **sources},
        "registry": registry,
    }
    return {
        "files": {"candidates.parquet": candidates, "serving.json": meta},
        "metadata": {
            "users": int(candidates["user_id"].nunique()),
            "pool": params["candidate_pool"],
            **registry,
        },
    }


def serving_next_purchase(
    predictions: pd.DataFrame, replenishment: pd.DataFrame, suppression: pd.DataFrame
) -> tuple[dict[str, Any], dict[str, str]]:
    """The next-purchase model (empty tables when forecasting has not run) and sources."""
    gone = forgotten(suppression)
    nxt, rep = without(_present(predictions), gone), without(_present(replenishment), gone)
    sources = {
        "next_purchase": "next_purchase_predictions" if nxt is not None else "missing",
        "replenishment": "replenishment_candidates" if rep is not None else "missing",
    }
    model = {
        "files": {
            "next_purchase.parquet": nxt if nxt is not None else pd.DataFrame(),
            "replenishment.parquet": rep if rep is not None else pd.DataFrame(),
        },
        "metadata": sources,
    }
    return model, sources


def packaging_sources(segments: str, next_sources: dict[str, str]) -> dict[str, str]:
    """Where each optional table came from (recorded in the recommender model)."""
    return {"segments": segments, **next_sources}


def packaging_metrics(
    candidates: pd.DataFrame, users: pd.DataFrame, sources: dict[str, str]
) -> dict[str, dict[str, float]]:
    """What was packaged, as MLflow metrics of the packaging run."""
    values = {
        "serving/candidate_users": candidates["user_id"].nunique(),
        "serving/profiles": len(users),
        "serving/profiles_without_consent": int((~users["consent"].astype(bool)).sum()),
        "serving/segments_found": int(not sources["segments"].startswith("missing")),
        "serving/next_purchase_found": int(sources["next_purchase"] != "missing"),
    }
    return {k: {"value": float(v), "step": 0} for k, v in values.items()}
