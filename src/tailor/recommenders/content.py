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
        vectorizer = TfidfVectorizer(
            max_features=int(self.params.get("max_features", 5000)),
            ngram_range=(1, int(self.params.get("max_ngram", 1))),
            min_df=int(self.params.get("min_df", 1)),
            sublinear_tf=True,
        )
        texts = item_texts(items, self.item_ids)
        if not any(texts):
            texts = list(self.item_ids)
        self.vectors = normalize(vectorizer.fit_transform(texts)).astype(np.float32).tocsr()
        self.profile_weights = self.weighted_matrix(interactions, "log")

    def _profiles(self, weights: sp.csr_matrix) -> np.ndarray:
        return np.asarray(normalize(weights @ self.vectors).toarray(), dtype=np.float64)

    def _cosine(self, profiles: np.ndarray) -> np.ndarray:
        return np.asarray(self.vectors @ profiles.T, dtype=np.float64).T

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._cosine(self._profiles(self.profile_weights[rows]))

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return self._cosine(self._profiles(sp.csr_matrix(histories, dtype=np.float32)))
