"""Due again: the replenishment timing Tailor forecasts, as a next-basket candidate.

Items a customer bought on at least ``min_purchase_days`` distinct days and that are due
(last purchase + their median interval) between ``overdue_days`` before and
``horizon_days`` after the end of the data come first, by the replenishment score of
``tailor.forecasting.replenishment`` (the one implementation); the customer's other past
items follow by order count, then popularity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.forecasting.replenishment import replenishment_candidates
from tailor.frame_utils import str_ids
from tailor.recommenders.base import EpochCallback
from tailor.recommenders.ptopfreq import PTopFreqRecommender
from tailor.recommenders.repeat_history import decayed_counts, fill_scores, personal_first


class DueAgainRecommender(PTopFreqRecommender):
    """P-TopFreq (plain counts) with the items due again moved to the top; cold and live
    histories are scored as P-TopFreq scores them."""

    name = "due_again"

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        lines = str_ids(interactions)
        due = replenishment_candidates(
            lines,
            self.as_of,
            int(self.params.get("min_purchase_days", 2)),
            int(self.params.get("horizon_days", 90)),
            int(self.params.get("overdue_days", 30)),
        )
        due = due[due["user_id"].isin(self.user_index.keys())]
        due = due[due["item_id"].isin(self.item_index.keys())]
        self.due = sp.csr_matrix(
            (
                due["score"].to_numpy(np.float64) + 1e-6,
                (
                    due["user_id"].map(self.user_index).to_numpy(np.int64),
                    due["item_id"].map(self.item_index).to_numpy(np.int64),
                ),
            ),
            shape=(len(self.user_ids), self.n_items),
        )
        self.freq = decayed_counts(lines, self.user_index, self.item_index, self.as_of, None)
        self.fill = fill_scores(self.fallback)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        freq = self.freq[rows].toarray()
        due = self.due[rows].toarray()
        top = np.maximum(freq.max(axis=1, keepdims=True), 1e-12)
        # due items above every other past item (2 + score), the rest by order count
        history = np.where(due > 0, 2.0 + due, freq / top)
        return personal_first(history, freq, self.fill)
