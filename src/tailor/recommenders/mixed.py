"""The served list that mixes buying again and discovering: a repeat source's ranking of the
customer's own past items and the discovery model's ranking of new items, merged by rank
with a per-customer weight.

An item at rank r of the repeat list scores ``w / (rrf_k + r)``, one at rank e of the
explore list ``(1 - w) / (rrf_k + e)`` (reciprocal-rank fusion, so the two models' score
scales never meet). The weight ``w`` of a customer is:

- ``first``: 1 (every past item first, then new ones: P-TopFreq filled with the discovery
  model instead of popularity);
- ``constant``: ``value`` for everyone;
- ``propensity``: the customer's own repeat rate (the share of their order lines, after
  their first order, that re-bought an item), shrunk towards ``global_share`` with
  ``shrink`` pseudo-lines, shifted by ``bias`` on the logit scale. ``global_share`` is the
  repeat rate of all customers' lines in the fit data; ``shrink``/``bias`` are chosen on
  the validation windows (``tailor.recommenders.mix_tuning``): nothing of the test window.

The explore list keeps its order, so with the repeats removed the list is the discovery
model's (the discovery protocol scores the served list unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tailor.recommenders.base import CHUNK, MAX_CELLS, EpochCallback, Recommender, top_k_order
from tailor.recommenders.matrix import history_rows
from tailor.recommenders.repeat_history import order_items

KINDS = ("first", "constant", "propensity")
EDGE = 1e-6  # keeps w inside (0, 1) so both lists keep their own order


def repeat_counts(interactions: pd.DataFrame) -> pd.DataFrame:
    """Per user: ``lines`` (distinct order-item pairs after the user's first order) and
    ``repeats`` (those whose item the user had bought in an earlier order)."""
    df = order_items(interactions)
    first_order = df.groupby("user_id")["ts"].transform("min")
    first_item = df.groupby(["user_id", "item_id"])["ts"].transform("min")
    later = df["ts"] > first_order
    out = pd.DataFrame(
        {
            "user_id": df["user_id"],
            "lines": later.astype(float),
            "repeats": (later & (df["ts"] > first_item)).astype(float),
        }
    )
    return out.groupby("user_id")[["lines", "repeats"]].sum()


def global_share(counts: pd.DataFrame) -> float:
    """Repeat rate of all customers' lines together (the prior a customer is shrunk to)."""
    lines = float(counts["lines"].sum())
    return float(counts["repeats"].sum()) / lines if lines else 0.5


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EDGE, 1 - EDGE)
    return np.log(p / (1 - p))


def mix_weights(counts: pd.DataFrame, users: Sequence[str], mix: dict[str, Any]) -> np.ndarray:
    """The repeat weight ``w`` of each of ``users`` (see the module docstring)."""
    kind = mix["kind"]
    if kind == "first":
        return np.full(len(users), 1 - EDGE)
    if kind == "constant":
        return np.full(len(users), np.clip(float(mix["value"]), EDGE, 1 - EDGE))
    if kind != "propensity":
        raise ValueError(f"recommender.next_basket mix kind must be one of {KINDS}, not {kind}")
    c = counts.reindex(list(users)).fillna(0.0)
    g, a = global_share(counts), float(mix["shrink"])
    p = (c["repeats"].to_numpy() + a * g) / (c["lines"].to_numpy() + a)
    return 1.0 / (1.0 + np.exp(-(_logit(p) + float(mix["bias"]))))


class MixedRecommender(Recommender):
    """Repeat source + discovery model, merged per customer (module docstring)."""

    name = "mixed"

    def __init__(
        self,
        explore: Recommender,
        repeat: Recommender,
        mix: dict[str, Any],
        seed: int = 42,
        **params: object,
    ) -> None:
        super().__init__(seed=seed, **params)
        if mix.get("kind") not in KINDS:
            raise ValueError(f"recommender.next_basket mix kind must be one of {KINDS}")
        self.explore, self.repeat, self.mix = explore, repeat, dict(mix)
        self.rrf_k = float(mix.get("rrf_k", 1.0))

    @classmethod
    def from_fitted(
        cls,
        explore: Recommender,
        repeat: Recommender,
        mix: dict[str, Any],
        interactions: pd.DataFrame,
        seed: int = 42,
    ) -> MixedRecommender:
        """A mix of two models fitted on ``interactions`` (the customers' repeat rates
        are read from the same lines)."""
        out = cls(explore, repeat, mix, seed=seed)
        out.adopt_fitted(explore)
        out.counts = repeat_counts(interactions)
        out.weight = mix_weights(out.counts, list(out.user_ids), out.mix)
        return out

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> MixedRecommender:
        self.explore = self.explore.fit(interactions, items, users)
        self.repeat.fit(interactions, items, users)
        return MixedRecommender.from_fitted(
            self.explore, self.repeat, self.mix, interactions, self.seed
        )

    def _fit(self, *args: object) -> None:  # fit() is overridden
        raise NotImplementedError

    def _score_users(self, rows: np.ndarray) -> np.ndarray:  # recommend() is overridden
        raise NotImplementedError

    def weights_of(self, user_ids: Sequence[str]) -> np.ndarray:
        rows = np.array([self.user_index.get(u, -1) for u in user_ids], dtype=np.int64)
        # a customer without past lines gets the shop's repeat rate (the shrinkage prior)
        default = mix_weights(self.counts, ["\x00no-history"], self.mix)[0]
        return np.where(rows >= 0, self.weight[np.maximum(rows, 0)], default)

    def repeat_lists(
        self, user_ids: Sequence[str], k: int, recent: Sequence[Sequence[str]] | None = None
    ) -> pd.DataFrame:
        """The repeat source's top ``k`` among each customer's own past items (not the live
        ``recent`` ones: just bought or in view, they are not offered again now)."""
        parts = []
        chunk = max(1, min(CHUNK, MAX_CELLS // max(self.n_items, 1)))
        for start in range(0, len(user_ids), chunk):
            batch = list(user_ids[start : start + chunk])
            rec = recent[start : start + chunk] if recent is not None else None
            scores, hist = self.repeat.score(batch, rec)
            keep = np.full(scores.shape, -np.inf)
            r, c = hist.nonzero()
            keep[r, c] = scores[r, c]
            if rec is not None:  # an item seen or bought live is not offered again now
                keep[
                    history_rows([list(x) for x in rec], self.item_index, self.n_items).nonzero()
                ] = -np.inf
            kk = min(int(k), self.n_items)
            order = top_k_order(keep, kk)
            top = np.take_along_axis(keep, order, axis=1)
            valid = np.isfinite(top)
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": np.repeat(np.asarray(batch, dtype=object), kk)[valid.ravel()],
                        "rank": np.tile(np.arange(1, kk + 1), len(batch))[valid.ravel()],
                        "item_id": self.repeat.item_ids[order[valid]],
                    }
                )
            )
        if not parts:
            return pd.DataFrame(columns=["user_id", "rank", "item_id"])
        return pd.concat(parts, ignore_index=True)

    def mixed(
        self,
        user_ids: Sequence[str],
        k_explore: int,
        k_repeat: int,
        recent: Sequence[Sequence[str]] | None = None,
    ) -> pd.DataFrame:
        """All of the top ``k_explore`` new and ``k_repeat`` past items of each customer,
        merged by the mixed score (``user_id, rank, item_id, score, part``)."""
        user_ids = [str(u) for u in user_ids]
        occurrence = pd.Series(user_ids).groupby(user_ids).cumcount().to_numpy()
        if len(user_ids) and occurrence.max() > 0:
            # one user asked twice (e.g. with different live items): merge is per user, so
            # each round holds every user once; answers keep the request order
            parts = []
            for n in range(int(occurrence.max()) + 1):
                pos = np.flatnonzero(occurrence == n)
                users = [user_ids[i] for i in pos]
                rec = [recent[i] for i in pos] if recent is not None else None
                part = self.mixed(users, k_explore, k_repeat, rec)
                parts.append(
                    part.assign(_pos=part["user_id"].map(dict(zip(users, pos, strict=True))))
                )
            out = pd.concat(parts, ignore_index=True)
            out = out.sort_values(["_pos", "rank"], kind="stable").drop(columns="_pos")
            return out.reset_index(drop=True)
        explore = self.explore.recommend(user_ids, k_explore, exclude=True, recent=recent)
        repeat = self.repeat_lists(user_ids, k_repeat, recent)
        return merge(explore, repeat, user_ids, self.weights_of(user_ids), self.rrf_k)

    def recommend(
        self,
        user_ids: Sequence[str],
        k: int,
        exclude: bool = True,
        recent: Sequence[Sequence[str]] | None = None,
    ) -> pd.DataFrame:
        """The mixed top ``k`` (``exclude`` is the explore part's: past items come back
        only through the repeat part)."""
        return _top(self.mixed(user_ids, int(k), int(k), recent), k)

    def merged_top(
        self, explore: pd.DataFrame, repeat: pd.DataFrame, user_ids: Sequence[str], k: int
    ) -> pd.DataFrame:
        """``recommend(user_ids, k)`` from its two parts computed once for distinct
        ``user_ids`` (``explore.recommend`` and ``repeat_lists``, top ``k`` each): mixes of
        the same parts with other weights need not recompute them."""
        users = [str(u) for u in user_ids]
        return _top(merge(explore, repeat, users, self.weights_of(users), self.rrf_k), k)


def _top(merged: pd.DataFrame, k: int) -> pd.DataFrame:
    return merged[merged["rank"] <= int(k)].drop(columns="part").reset_index(drop=True)


def merge(
    explore: pd.DataFrame,
    repeat: pd.DataFrame,
    user_ids: Sequence[str],
    weights: np.ndarray,
    rrf_k: float,
) -> pd.DataFrame:
    """Explore and repeat lists (``user_id, rank, item_id``) merged per user by
    ``w / (rrf_k + rank)`` (repeat) and ``(1 - w) / (rrf_k + rank)`` (explore); users in
    ``user_ids`` order, ``w`` = ``weights`` of each user; an item in both lists counts once
    (at its better score). Ties go to the repeat item."""
    w = pd.Series(np.asarray(weights, dtype=float), index=list(user_ids))
    both = pd.concat(
        [
            repeat[["user_id", "rank", "item_id"]].assign(part="repeat"),
            explore[["user_id", "rank", "item_id"]].assign(part="explore"),
        ],
        ignore_index=True,
    )
    uw = both["user_id"].map(w).to_numpy(dtype=float)
    share = np.where(both["part"] == "repeat", uw, 1 - uw)
    both["score"] = share / (float(rrf_k) + both["rank"].to_numpy(dtype=float))
    order = {u: i for i, u in enumerate(user_ids)}
    both["_o"] = both["user_id"].map(order)
    both = both.sort_values(
        ["_o", "score", "part"], ascending=[True, False, False], kind="stable"
    ).drop_duplicates(["user_id", "item_id"])
    both["rank"] = both.groupby("_o", sort=False).cumcount() + 1
    out = both[["user_id", "rank", "item_id", "score", "part"]].reset_index(drop=True)
    return out.astype({"user_id": str, "item_id": str, "rank": np.int64, "score": float})
