"""The served recommender as one MLflow pyfunc model (and the local bundle directory).

Contract: input DataFrame ``user_id`` (str), ``k`` (int), ``recent_items`` (str, ``|``-joined
item ids seen or bought live, may be ''); output ``user_id, rank, item_id, score``.
Unknown users and unknown item ids never raise: they get the model's cold-start ranking.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

import tailor
from tailor.recommenders.base import Recommender

OUTPUT_COLUMNS = ["user_id", "rank", "item_id", "score"]


def predict_frame(model: Recommender, frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the pyfunc contract to a fitted candidate."""
    if frame.empty:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(OUTPUT_COLUMNS, [str, "int64", str, "float64"], strict=True)
            }
        )
    users = frame["user_id"].fillna("").astype(str).tolist()
    ks = pd.to_numeric(frame.get("k", 10), errors="coerce").fillna(10).astype(int)
    ks = ks.clip(1, model.n_items).to_numpy() if len(ks) else np.array([], int)
    recent_col = frame.get("recent_items", pd.Series("", index=frame.index))
    recent = [
        [i for i in str(r).split("|") if i] if isinstance(r, str) else []
        for r in recent_col.tolist()
    ]
    parts = []
    for k in np.unique(ks):
        rows = np.flatnonzero(ks == k)
        parts.append(
            model.recommend([users[i] for i in rows], int(k), recent=[recent[i] for i in rows])
        )
    out = pd.concat(parts, ignore_index=True)
    # Answers in the order of the requests.
    order = {u: i for i, u in reversed(list(enumerate(users)))}
    out["_order"] = out["user_id"].map(order)
    out = out.sort_values(["_order", "rank"], kind="stable").drop(columns="_order")
    return out[OUTPUT_COLUMNS].reset_index(drop=True)


class TailorRecommender(mlflow.pyfunc.PythonModel):
    """Loads the pickled candidate from the ``model`` artefact."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["model"], "rb") as fh:
            self.model: Recommender = pickle.load(fh)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return predict_frame(self.model, pd.DataFrame(model_input))


def write_artifacts(
    model: Recommender, items: pd.DataFrame, meta: dict[str, Any], directory: Path
) -> dict[str, str]:
    """Model pickle, id maps, item catalog and metadata as files; returns the artefact map."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": directory / "model.pkl",
        "user_ids": directory / "user_ids.json",
        "item_ids": directory / "item_ids.json",
        "item_catalog": directory / "item_catalog.parquet",
        "meta": directory / "meta.json",
    }
    with open(paths["model"], "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    paths["user_ids"].write_text(json.dumps([str(u) for u in model.user_ids]))
    paths["item_ids"].write_text(json.dumps([str(i) for i in model.item_ids]))
    items.to_parquet(paths["item_catalog"], index=False)
    paths["meta"].write_text(json.dumps(meta, indent=2, default=str))
    return {k: str(v) for k, v in paths.items()}


def input_example(model: Recommender) -> pd.DataFrame:
    known = str(model.user_ids[0]) if len(model.user_ids) else "u"
    items = "|".join(str(i) for i in model.item_ids[:2])
    return pd.DataFrame(
        {"user_id": [known, "new-user"], "k": [10, 5], "recent_items": ["", items]}
    ).astype({"user_id": str, "k": "int64", "recent_items": str})


def pyfunc_kwargs(
    model: Recommender, items: pd.DataFrame, meta: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    """Arguments shared by ``save_model`` (bundle dir) and ``log_model`` (registry)."""
    artifacts = write_artifacts(model, items, meta, workdir)
    example = input_example(model)
    signature = infer_signature(example, predict_frame(model, example))
    return {
        "python_model": TailorRecommender(),
        "artifacts": artifacts,
        "code_paths": [str(Path(tailor.__file__).parent)],
        "signature": signature,
        "input_example": example,
    }
