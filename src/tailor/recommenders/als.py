"""Implicit-feedback matrix factorisation (``implicit`` ALS) with confidence weighting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tailor.recommenders.base import EpochCallback, Recommender


class AlsRecommender(Recommender):
    """ALS on ``alpha * weight(orders)`` confidences (``log`` or ``bm25`` weighting).

    Unknown histories are folded in with ``recalculate_user`` (one least-squares solve).
    """

    name = "als"

    def _matrix(self, interactions: pd.DataFrame) -> sp.csr_matrix:
        return self.weighted_matrix(interactions, "log")

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        alpha = float(self.params.get("alpha", 10.0))
        x = self._matrix(interactions)
        self.model = AlternatingLeastSquares(
            factors=int(self.params.get("factors", 128)),
            regularization=float(self.params.get("regularization", 10.0)),
            alpha=alpha,
            iterations=int(self.params.get("iterations", 15)),
            random_state=self.seed,
            num_threads=int(self.params.get("num_threads", 1)),
        )
        # implicit's own threads + OpenBLAS threads oversubscribe the CPU (implicit warns).
        with threadpool_limits(1, "blas"):
            self.model.fit(x, show_progress=False)
        self.user_factors = np.asarray(self.model.user_factors)
        self.item_factors = np.asarray(self.model.item_factors)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return (self.user_factors[rows] @ self.item_factors.T).astype(np.float64)

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        hist = sp.csr_matrix(histories, dtype=np.float32)
        hist.data[:] = float(np.log1p(1.0))
        factors = np.vstack(
            [
                np.asarray(self.model.recalculate_user(0, hist[i])).ravel()
                for i in range(hist.shape[0])
            ]
        )
        return (factors @ self.item_factors.T).astype(np.float64)
