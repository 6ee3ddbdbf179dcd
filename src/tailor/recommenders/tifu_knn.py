"""TIFU-KNN (Hu et al., "Modeling Personalized Item Frequency Information for Next-basket
Recommendation", SIGIR 2020): a time-decayed personal item-frequency vector blended with
the mean vector of the customer's nearest neighbours.

A customer's orders, newest first, fall into groups of ``group_size``; inside a group an
order weighs ``within_decay ** position`` (mean over the group), groups weigh
``group_decay ** group`` (mean over groups). Score = ``alpha`` x own vector + (1 - alpha) x
mean of the ``neighbours`` most cosine-similar customers' vectors; items nobody near bought
are filled with popularity. Defaults are the paper's (group 7, 0.9, 0.7, k 300, alpha 0.9).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.base import EpochCallback, Recommender
from tailor.recommenders.repeat_history import order_items


class TifuKnnRecommender(Recommender):
    name = "tifu_knn"

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        m = int(self.params.get("group_size", 7))
        rb = float(self.params.get("within_decay", 0.9))
        rg = float(self.params.get("group_decay", 0.7))
        df = order_items(interactions)
        df = df[df["item_id"].isin(self.item_index.keys())]
        orders = df[["user_id", "order_id", "ts"]].drop_duplicates(["user_id", "order_id"])
        orders = orders.sort_values(["user_id", "ts", "order_id"], ascending=[True, False, True])
        pos = orders.groupby("user_id", sort=False).cumcount().to_numpy()  # 0 = newest
        n = orders.groupby("user_id", sort=False)["order_id"].transform("size").to_numpy()
        group = pos // m
        n_groups = np.ceil(n / m)
        group_len = np.minimum(m, n - group * m)
        weight = rb ** (pos % m) * rg**group / (group_len * n_groups)
        orders = orders.assign(weight=weight)[["user_id", "order_id", "weight"]]
        df = df.merge(orders, on=["user_id", "order_id"])
        rows = df["user_id"].map(self.user_index).to_numpy(np.int64)
        cols = df["item_id"].map(self.item_index).to_numpy(np.int64)
        x = sp.csr_matrix(
            (df["weight"].to_numpy(), (rows, cols)), shape=(len(self.user_ids), self.n_items)
        )
        x.sum_duplicates()
        self.vectors = x.astype(np.float64)
        self.unit = _unit_rows(self.vectors)
        self.fill = self.fallback / (float(self.fallback.max()) + 1.0) * 1e-9

    @property
    def scored_history(self) -> sp.csr_matrix:
        return self.vectors

    def _blend(self, own: sp.csr_matrix, self_rows: np.ndarray | None) -> np.ndarray:
        k = min(int(self.params.get("neighbours", 300)), max(len(self.user_ids) - 1, 1))
        alpha = float(self.params.get("alpha", 0.9))
        sim = (_unit_rows(own) @ self.unit.T).toarray()
        if self_rows is not None:
            sim[np.arange(len(self_rows)), self_rows] = -np.inf
        nb = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < sim.shape[1] else None
        if nb is None:
            nb = np.tile(np.arange(sim.shape[1]), (sim.shape[0], 1))
        pick = sp.csr_matrix(
            (
                np.full(nb.size, 1.0 / nb.shape[1]),
                (np.repeat(np.arange(nb.shape[0]), nb.shape[1]), nb.ravel()),
            ),
            shape=sim.shape,
        )
        if self_rows is not None:  # a user is never their own neighbour
            pick = pick.multiply(np.isfinite(sim)).tocsr()
        return alpha * own.toarray() + (1 - alpha) * (pick @ self.vectors).toarray() + self.fill

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._blend(self.vectors[rows], rows)

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return self._blend(sp.csr_matrix(histories, dtype=np.float64), None)


def _unit_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sp.diags(1.0 / norms) @ x).tocsr()
