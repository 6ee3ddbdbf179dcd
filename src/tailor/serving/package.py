"""``python -m tailor.serving.package [--env synthetic]``: pipeline outputs → BentoML models.

Reads the Kedro catalog of the chosen environment and writes four versioned models into
the BentoML model store (``BENTOML_HOME``): ``tailor-recommender`` (the MLflow pyfunc
bundle plus its top-N per known user, precomputed so a request is a lookup, not a model
call), ``tailor-catalog`` (items, content neighbours, popularity), ``tailor-profiles``
(segments, countries, consent, purchase history) and ``tailor-next-purchase``. The
recommender is required; segments and next-purchase tables fall back (one segment "all",
no next-purchase answers) with the fallback recorded in the model metadata.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from tailor.recommenders.content import item_texts
from tailor.serving import artefacts

log = logging.getLogger(__name__)


def _optional(catalog: Any, name: str) -> pd.DataFrame | None:
    """An optional upstream output; ``None`` (logged) when not declared or not built yet."""
    try:
        if name in catalog and catalog.exists(name):
            return catalog.load(name)
    except Exception as exc:  # an optional artefact must never stop packaging
        log.warning("optional artefact %s unreadable (%s): falling back", name, exc)
        return None
    log.warning("optional artefact %s not found: falling back", name)
    return None


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


def model_candidates(bundle: Path, users: list[str], pool: int, chunk: int = 2000) -> pd.DataFrame:
    """The served model's top-``pool`` for every known user, through its pyfunc contract."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(bundle))
    parts = []
    for start in range(0, len(users), chunk):
        batch = users[start : start + chunk]
        frame = pd.DataFrame({"user_id": batch, "k": pool, "recent_items": ""})
        parts.append(model.predict(frame))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out = out.astype({"user_id": str, "item_id": str})
    return out[["user_id", "rank", "item_id", "score"]]


def content_neighbours(items: pd.DataFrame, n: int, max_features: int) -> dict[str, np.ndarray]:
    """Each item's ``n`` most similar items by TF-IDF cosine on text + category."""
    text = item_texts(items, items["item_id"].astype(str).to_numpy())  # as the recommender's
    x = TfidfVectorizer(max_features=max_features, sublinear_tf=True).fit_transform(text)
    n = min(n, len(items) - 1)
    idx = np.zeros((len(items), n), dtype=np.int32)
    sim = np.zeros((len(items), n), dtype=np.float32)
    for start in range(0, len(items), 1024):
        block = (x[start : start + 1024] @ x.T).toarray()
        np.fill_diagonal(block[:, start : start + 1024], -1.0)
        block[block >= 0.9999] = -1.0  # same text under another id (e.g. 85123A/85123a)
        top = np.argpartition(-block, n - 1, axis=1)[:, :n]
        vals = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-vals, axis=1)
        idx[start : start + len(block)] = np.take_along_axis(top, order, axis=1)
        sim[start : start + len(block)] = np.clip(np.take_along_axis(vals, order, axis=1), 0, 1)
    return {"idx": idx, "sim": sim}


def popularity(interactions: pd.DataFrame, users: pd.DataFrame, days: int) -> pd.DataFrame:
    """Distinct recent buyers per item: overall, per country, per segment."""
    recent = interactions[interactions["ts"] > interactions["ts"].max() - pd.Timedelta(days=days)]
    recent = recent.merge(users[["user_id", "segment"]], on="user_id", how="left")
    frames = [
        recent.groupby("item_id")["user_id"]
        .nunique()
        .rename("score")
        .reset_index()
        .assign(scope="global", key="")
    ]
    for scope, col in (("country", "country"), ("segment", "segment")):
        g = recent.dropna(subset=[col]).groupby([col, "item_id"])["user_id"].nunique()
        frames.append(
            g.rename("score").reset_index().rename(columns={col: "key"}).assign(scope=scope)
        )
    out = pd.concat(frames, ignore_index=True)
    return out[["scope", "key", "item_id", "score"]].astype({"key": str, "score": float})


def user_table(
    features: pd.DataFrame,
    segments: pd.DataFrame | None,
    raw_users: pd.DataFrame | None,
    segment_column: str,
) -> tuple[pd.DataFrame, str]:
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


def _save(name: str, files: dict[str, Any], metadata: dict[str, Any]) -> bentoml.Model:
    labels = {"project": "tailor"}
    with bentoml.models.create(name, labels=labels, metadata=metadata) as ref:
        root = Path(ref.path)
        for fname, obj in files.items():
            if isinstance(obj, pd.DataFrame):
                obj.to_parquet(root / fname, index=False)
            elif isinstance(obj, Path):
                shutil.copytree(obj, root / fname)
            elif fname.endswith(".npz"):
                np.savez(root / fname, **obj)
            else:
                (root / fname).write_text(json.dumps(obj, indent=2, default=str))
    log.info("saved %s", ref.tag)
    return ref


def package(catalog: Any, params: dict[str, Any], data_dir: Path) -> dict[str, str]:
    """Build the four models from the catalog's datasets; returns their tags."""
    bundle = data_dir / "06_models" / "recommender"
    if not (bundle / "MLmodel").exists():
        raise FileNotFoundError(
            f"recommender bundle not found at {bundle}: "
            "run `kedro run --pipeline recommender` first"
        )
    items = catalog.load("item_catalog").astype({"item_id": str})
    # Users forgotten since the last data_engineering run leave every packaged table now.
    gone = forgotten(_optional(catalog, "suppression_list"))
    interactions = without(
        catalog.load("interactions").astype({"user_id": str, "item_id": str}), gone
    )
    features = without(catalog.load("customer_features_serving"), gone)
    segments = without(_optional(catalog, "customer_segments_serving"), gone)
    users, seg_source = user_table(
        features, segments, _optional(catalog, "raw_users"), params["segment_column"]
    )
    users = without(users, gone)
    known = sorted(set(features["user_id"].astype(str)) | set(interactions["user_id"]))
    candidates = model_candidates(bundle, known, int(params["candidate_pool"]))
    nxt = without(_optional(catalog, "next_purchase_predictions"), gone)
    rep = without(_optional(catalog, "replenishment_candidates"), gone)
    bought = (
        interactions.groupby(["user_id", "item_id"])
        .agg(n_orders=("order_id", "nunique"), last_ts=("ts", "max"))
        .reset_index()
    )
    sources = {
        "recommender": str(bundle),
        "segments": seg_source,
        "next_purchase": "next_purchase_predictions" if nxt is not None else "missing",
        "replenishment": "replenishment_candidates" if rep is not None else "missing",
    }
    mlmodel = (bundle / "MLmodel").read_text()
    meta = {"as_of": str(interactions["ts"].max()), "params": params, "sources": sources}
    tags = {
        "recommender": _save(
            artefacts.RECOMMENDER,
            {"bundle": bundle, "candidates.parquet": candidates, "serving.json": meta},
            {
                "users": len(candidates["user_id"].unique()),
                "pool": params["candidate_pool"],
                "mlmodel_head": mlmodel[:500],
            },
        ),
        "catalog": _save(
            artefacts.CATALOG,
            {
                "items.parquet": items,
                "neighbors.npz": content_neighbours(
                    items, int(params["neighbours"]), int(params["tfidf_max_features"])
                ),
                "popularity.parquet": popularity(
                    interactions, users, int(params["popularity_days"])
                ),
            },
            {"items": len(items)},
        ),
        "profiles": _save(
            artefacts.PROFILES,
            {"users.parquet": users, "bought.parquet": bought},
            {"users": len(users), "segments": seg_source},
        ),
        "next_purchase": _save(
            artefacts.NEXT_PURCHASE,
            {
                "next_purchase.parquet": nxt if nxt is not None else pd.DataFrame(),
                "replenishment.parquet": rep if rep is not None else pd.DataFrame(),
            },
            {"next_purchase": sources["next_purchase"], "replenishment": sources["replenishment"]},
        ),
    }
    return {k: str(v.tag) for k, v in tags.items()}


def _runtime_params(text: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in filter(None, (text or "").split(",")):
        key, _, value = pair.partition("=")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def load_project(
    project: Path, env: str | None, runtime_params: dict[str, Any]
) -> tuple[Any, dict[str, Any], Path]:
    """Catalog, parameters and data dir of a Kedro environment, without a session (packaging
    must not depend on every pipeline in the registry importing cleanly)."""
    from kedro.config import MissingConfigException, OmegaConfigLoader
    from kedro.io import DataCatalog

    from tailor import settings

    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"),
        env=env,
        runtime_params=runtime_params,
        **settings.CONFIG_LOADER_ARGS,
    )
    catalog_conf = {k: v for k, v in loader["catalog"].items() if not k.startswith("_")}
    params = loader["parameters"]
    try:
        data_dir = loader["globals"]["data_dir"]
    except (KeyError, ValueError):
        data_dir = "data"
    try:
        credentials = loader["credentials"]
    except MissingConfigException:
        credentials = {}
    catalog = DataCatalog.from_config(catalog_conf, credentials)
    return catalog, params, project / data_dir


def main(argv: list[str] | None = None) -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="Kedro environment (e.g. synthetic)")
    parser.add_argument("--params", default=None, help="runtime params, e.g. synthetic_users=300")
    parser.add_argument("--project", default=".", help="Kedro project directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    project = Path(args.project).resolve()
    os.chdir(project)  # catalog file paths are relative to the project
    catalog, params, data_dir = load_project(project, args.env, _runtime_params(args.params))
    tags = package(catalog, params["serving"], data_dir)
    print(json.dumps(tags, indent=2))


if __name__ == "__main__":
    main()
