"""Item-item cosine k-nearest neighbours (``implicit``): score = sum of similarities."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.base import EpochCallback, Recommender


class ItemKnnRecommender(Recommender):
    """Each item keeps its ``neighbours`` most similar items (cosine over buyers)."""

    name = "item_knn"
    nonnegative_scores = True
    decays_history = True

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        from implicit.nearest_neighbours import CosineRecommender

        x = self.weighted_matrix(interactions, "binary")
        model = CosineRecommender(K=int(self.params.get("neighbours", 20)), num_threads=1)
        with warnings.catch_warnings():  # implicit warns about its own internal COO copy
            warnings.simplefilter("ignore")
            model.fit(x, show_progress=False)
        self.similarity = sp.csr_matrix(model.similarity, dtype=np.float32)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._score_histories(self.user_histories(rows))

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return np.asarray((histories @ self.similarity).toarray(), dtype=np.float64)
