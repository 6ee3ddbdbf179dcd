"""Popularity: the baseline every candidate must beat (overall, per country or segment)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.recommenders.base import EpochCallback, Recommender
from tailor.recommenders.matrix import user_item_matrix


class PopularityRecommender(Recommender):
    """Items ranked by distinct buyers, optionally within the user's group.

    ``scope``: ``global``, or a user attribute column (``country``, ``segment``...);
    ``days``: count only the last ``days`` of train (None: all of it). Groups smaller than
    ``min_group_users`` borrow the global ranking (``shrinkage`` pseudo-users of it).
    """

    name = "popularity"

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        days = self.params.get("days")
        if days:
            interactions = interactions[
                interactions["ts"] > self.as_of - pd.Timedelta(days=float(days))
            ]
        x = user_item_matrix(interactions, self.user_index, self.item_index)
        x.data[:] = 1.0
        counts = np.asarray(x.sum(axis=0)).ravel()
        # All-time buyers break ties among equally popular items.
        self.global_scores = counts + self.fallback / (self.fallback.max() + 1.0) * 1e-3
        scope = self.params.get("scope", "global")
        self.user_group = np.full(len(self.user_ids), -1, dtype=np.int64)
        self.group_names: list[str] = []
        self.group_scores = np.zeros((0, self.n_items))
        if scope == "global" or users is None or scope not in users.columns:
            return
        groups = (
            users.astype({"user_id": str})
            .set_index("user_id")[scope]
            .reindex(self.user_ids)
            .fillna("unknown")
            .astype(str)
        )
        codes, names = pd.factorize(groups, sort=True)
        self.user_group = codes.astype(np.int64)
        self.group_names = [str(g) for g in names]
        shrink = float(self.params.get("shrinkage", 10.0))
        share = self.global_scores / max(self.global_scores.sum(), 1e-9)
        group_scores = []
        for g in range(len(names)):
            member = self.user_group == g
            c = np.asarray(x[member].sum(axis=0)).ravel()
            n = c.sum()
            group_scores.append((c + shrink * share * n / max(member.sum(), 1)) / max(n, 1))
        self.group_scores = np.vstack(group_scores) + share * 1e-6

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        out = np.tile(self.global_scores, (len(rows), 1))
        groups = self.user_group[rows]
        has = groups >= 0
        out[has] = self.group_scores[groups[has]]
        return out

    def ranking_table(self, scope: str) -> pd.DataFrame:
        """``scope, key, item_id, score``: the global ranking (key "") and, when fitted with
        a group scope, each group's (key = group); items bought in the counted days only."""
        sold = np.flatnonzero(self.global_scores >= 1.0)
        frames = [
            pd.DataFrame(
                {"scope": "global", "key": "", "item_id": self.item_ids[sold],
                 "score": self.global_scores[sold]}
            )
        ]  # fmt: skip
        for g, name in enumerate(self.group_names):
            frames.append(
                pd.DataFrame(
                    {"scope": scope, "key": name, "item_id": self.item_ids[sold],
                     "score": self.group_scores[g, sold]}
                )
            )  # fmt: skip
        out = pd.concat(frames, ignore_index=True)
        return out.astype({"item_id": str, "key": str, "score": float})
