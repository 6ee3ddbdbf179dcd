"""EASE (Steck 2019): a closed-form item-item linear model, ``B = I - P/diag(P)``.

With a few thousand items the item Gram matrix inverts in seconds; the L2 weight ``lam``
is the one knob. Interactions can decay with age (``half_life_days``) and the scores can
be multiplied by the trend prior (``priors.trend_prior``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack

from tailor.recommenders.base import EpochCallback, Recommender

log = logging.getLogger(__name__)


def ease_weights(x: sp.csr_matrix, lam: float) -> np.ndarray:
    """The EASE item-item weights for the (users x items) matrix ``x``."""
    gram = (x.T @ x).toarray().astype(np.float32)
    diag = np.diag_indices_from(gram)
    gram[diag] += np.float32(lam)
    # Inverse of a symmetric positive definite matrix via Cholesky (float32: ~4x faster
    # than a generic float64 inverse; lam keeps it well conditioned).
    chol, info = lapack.spotrf(gram, lower=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix not positive definite (info={info})")
    p, info = lapack.spotri(chol, lower=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inverse failed (info={info})")
    p = np.tril(p) + np.tril(p, -1).T
    b = p / (-np.diag(p))
    b[diag] = 0.0
    return b.astype(np.float32)


class EaseRecommender(Recommender):
    name = "ease"
    nonnegative_scores = True
    decays_history = True

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        x = self.weighted_matrix(interactions, "binary")
        # Items with fewer buyers than ``min_item_buyers`` get no weights (score 0): they
        # carry almost no co-purchase signal and the inverse is cubic in the item count.
        buyers = np.asarray((x > 0).sum(axis=0)).ravel()
        self.active = np.flatnonzero(buyers >= int(self.params.get("min_item_buyers", 2)))
        # The Gram matrix is dense (items^2 floats, cubic to invert): above ``max_items``
        # only the most-bought items get weights, the others score 0 (ranked last).
        cap = int(self.params.get("max_items", 5000))
        if len(self.active) > cap:
            order = np.argsort(-buyers[self.active], kind="stable")[:cap]
            log.warning(
                "EASE: %d items pass min_item_buyers; the dense Gram matrix is restricted to "
                "the %d most-bought (max_items=%d, %.0f MB in float32)",
                len(self.active),
                cap,
                cap,
                cap * cap * 4 / 2**20,
            )
            self.active = np.sort(self.active[order])
        self.weights = ease_weights(x[:, self.active], float(self.params.get("lam", 300.0)))

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((histories.shape[0], self.n_items), dtype=np.float64)
        out[:, self.active] = histories[:, self.active] @ self.weights
        return out

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._score_histories(self.user_histories(rows))
