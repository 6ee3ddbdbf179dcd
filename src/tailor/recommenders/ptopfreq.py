"""P-TopFreq: a customer's own most frequently bought items, filled with popularity.

The next-basket baseline that deep models struggle to beat (Li et al., "A Next Basket
Recommendation Reality Check", TOIS 2023). ``half_life_days`` (None/0: plain counts, the
untuned baseline) weighs each past order by its age, so a staple bought every week ranks
above an item bought often two years ago.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.base import EpochCallback, Recommender
from tailor.recommenders.repeat_history import decayed_counts, fill_scores, personal_first


class PTopFreqRecommender(Recommender):
    name = "ptopfreq"

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        self.freq = decayed_counts(
            interactions,
            self.user_index,
            self.item_index,
            self.as_of,
            self.params.get("half_life_days"),
        )
        self.fill = fill_scores(self.fallback)

    @property
    def scored_history(self) -> sp.csr_matrix:
        # live items (weight 1 in base.score) join the decayed frequencies
        return self.freq

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._score_histories(self.freq[rows])

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        dense = histories.toarray().astype(np.float64)
        # frequencies scaled per user into (0, 1]: comparable with live items at weight 1
        top = np.maximum(dense.max(axis=1, keepdims=True), 1e-12)
        return personal_first(dense / top, dense, self.fill)
