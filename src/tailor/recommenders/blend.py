"""A weighted blend of fitted candidates: min-max score blend or reciprocal-rank fusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.base import EpochCallback, Recommender


def normalise(scores: np.ndarray, method: str, rrf_k: float) -> np.ndarray:
    """Per-user scores made comparable across models."""
    if method == "rrf":
        # Each item's 0-based rank (ties by column order): one sort, then a scatter.
        order = np.argsort(-scores, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :], axis=1)
        return 1.0 / (rrf_k + ranks + 1.0)
    lo = scores.min(axis=1, keepdims=True)
    hi = scores.max(axis=1, keepdims=True)
    return (scores - lo) / np.maximum(hi - lo, 1e-12)


class BlendRecommender(Recommender):
    """``sum_i w_i * normalise(score_i)``; components share the blend's fit data."""

    name = "blend"

    def __init__(
        self,
        components: Sequence[Recommender],
        weights: Sequence[float],
        method: str = "score",
        rrf_k: float = 60.0,
        seed: int = 42,
        **params: object,
    ) -> None:
        super().__init__(seed=seed, **params)
        if len(components) != len(weights) or not components:
            raise ValueError("blend needs one weight per component")
        self.components = list(components)
        self.weights = [float(w) for w in weights]
        self.method = method
        self.rrf_k = float(rrf_k)

    @classmethod
    def from_fitted(
        cls, components: Sequence[Recommender], weights: Sequence[float], **kwargs: object
    ) -> BlendRecommender:
        """A blend of components already fitted on the same data (no refit)."""
        blend = cls(components, weights, **kwargs)  # type: ignore[arg-type]
        blend.adopt_fitted(blend.components[0])
        return blend

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> BlendRecommender:
        for c in self.components:
            c.fit(interactions, items, users)
        return BlendRecommender.from_fitted(
            self.components,
            self.weights,
            method=self.method,
            rrf_k=self.rrf_k,
            seed=self.seed,
        )

    def _fit(self, *args: object) -> None:  # fit() is overridden
        raise NotImplementedError

    def _combine(self, parts: list[np.ndarray]) -> np.ndarray:
        out = np.zeros_like(parts[0])
        for w, s in zip(self.weights, parts, strict=True):
            out += w * normalise(s, self.method, self.rrf_k)
        return out

    def score(
        self, user_ids: Sequence[str], recent: Sequence[Sequence[str]] | None = None
    ) -> tuple[np.ndarray, sp.csr_matrix]:
        """Each component scores the users as it would alone (its own time-decayed
        histories, priors and fallback, live items included); the blend combines them."""
        parts = [c.score(user_ids, recent) for c in self.components]
        return self._combine([scores for scores, _ in parts]), parts[0][1]

    def _score_users(self, rows: np.ndarray) -> np.ndarray:  # score() is overridden
        raise NotImplementedError
