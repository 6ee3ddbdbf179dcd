"""Content-based: TF-IDF of item text (+ category), user profile = weighted mean of the
vectors of the items they bought, cosine ranking. Needs no co-purchases: works for items
nobody bought yet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from tailor.recommenders.base import EpochCallback, Recommender


def item_texts(items: pd.DataFrame | None, item_ids: np.ndarray) -> list[str]:
    """Text + category per item id (empty for items missing from the catalog)."""
    if items is None or items.empty:
        return ["" for _ in item_ids]
    frame = items.astype({"item_id": str}).drop_duplicates("item_id").set_index("item_id")
    text = frame.get("text", frame.get("description", pd.Series("", index=frame.index)))
    cat = frame.get("category", pd.Series("", index=frame.index))
    joined = (text.fillna("").astype(str) + " " + cat.fillna("").astype(str)).str.strip()
    return joined.reindex(item_ids).fillna("").tolist()


def text_vectors(
    items: pd.DataFrame | None,
    item_ids: np.ndarray,
    max_features: int,
    max_ngram: int = 1,
    min_df: int = 1,
) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows of each item's text + category: the one item-similarity
    definition (content recommender, and the serving neighbours of ``nearest_items``)."""
    vectorizer = TfidfVectorizer(
        max_features=int(max_features),
        ngram_range=(1, int(max_ngram)),
        min_df=int(min_df),
        sublinear_tf=True,
    )
    texts = item_texts(items, item_ids)
    if not any(texts):
        texts = [str(i) for i in item_ids]
    return normalize(vectorizer.fit_transform(texts)).astype(np.float32).tocsr()


def nearest_items(vectors: sp.csr_matrix, n: int, block: int = 1024) -> dict[str, np.ndarray]:
    """Each row's ``n`` most cosine-similar other rows (``idx``, ``sim`` best first), in
    blocks so no dense items x items matrix is held. Rows with the same text under another
    id (e.g. 85123A/85123a) are not neighbours."""
    n_items = vectors.shape[0]
    n = max(min(n, n_items - 1), 0)
    idx = np.zeros((n_items, n), dtype=np.int32)
    sim = np.zeros((n_items, n), dtype=np.float32)
    if n == 0:
        return {"idx": idx, "sim": sim}
    for start in range(0, n_items, block):
        part = (vectors[start : start + block] @ vectors.T).toarray()
        np.fill_diagonal(part[:, start : start + block], -1.0)
        part[part >= 0.9999] = -1.0
        top = np.argpartition(-part, n - 1, axis=1)[:, :n]
        vals = np.take_along_axis(part, top, axis=1)
        order = np.argsort(-vals, axis=1)
        idx[start : start + len(part)] = np.take_along_axis(top, order, axis=1)
        sim[start : start + len(part)] = np.clip(np.take_along_axis(vals, order, axis=1), 0, 1)
    return {"idx": idx, "sim": sim}


class ContentRecommender(Recommender):
    name = "content"
    nonnegative_scores = True

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        self.vectors = text_vectors(
            items,
            self.item_ids,
            int(self.params.get("max_features", 5000)),
            int(self.params.get("max_ngram", 1)),
            int(self.params.get("min_df", 1)),
        )
        self.profile_weights = self.weighted_matrix(interactions, "log")

    def _profiles(self, weights: sp.csr_matrix) -> np.ndarray:
        return np.asarray(normalize(weights @ self.vectors).toarray(), dtype=np.float64)

    def _cosine(self, profiles: np.ndarray) -> np.ndarray:
        return np.asarray(self.vectors @ profiles.T, dtype=np.float64).T

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._cosine(self._profiles(self.profile_weights[rows]))

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return self._cosine(self._profiles(sp.csr_matrix(histories, dtype=np.float32)))
