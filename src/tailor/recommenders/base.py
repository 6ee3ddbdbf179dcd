"""The common interface of every candidate: ``fit`` on interactions, ``recommend`` top-k.

Subclasses implement ``_fit``, ``_score_users`` (known users, by row) and, when they can
score a bare item history, ``_score_histories`` (cold start and live ``recent_items``).
Everything else (id maps, exclusion of bought items, the popularity fallback for users
with no usable history, deterministic ties, the optional trend prior) lives here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.frame_utils import str_ids
from tailor.recommenders.matrix import binary, history_rows, user_item_matrix
from tailor.recommenders.priors import (
    HISTORY,
    buyers_between,
    is_neutral,
    item_prior_params,
    trend_prior,
)

EpochCallback = Callable[[int, "Recommender"], None]
CHUNK = 1024
# Dense scores are built for at most this many (user, item) cells at a time, so a catalog
# of 100k items scores a few dozen users per chunk instead of holding users x items.
MAX_CELLS = 4_000_000


class Recommender(ABC):
    """A fitted recommender over the catalog's items and the training users."""

    name: ClassVar[str] = "base"
    # Scores are >= 0 and comparable across items: the multiplicative prior applies.
    nonnegative_scores: ClassVar[bool] = False
    # Known users are scored from ``user_histories``: the history prior (decay) applies.
    decays_history: ClassVar[bool] = False

    def __init__(
        self,
        seed: int = 42,
        prior: dict[str, float] | None = None,
        fallback_days: int = 30,
        **params: Any,
    ) -> None:
        self.seed = int(seed)
        self.prior_params = dict(prior or {})
        self.fallback_days = int(fallback_days)
        self.params = params

    # --- fitting ---------------------------------------------------------------------------
    def weighted_matrix(self, interactions: pd.DataFrame, default_weighting: str) -> sp.csr_matrix:
        """User x item matrix with this model's ``weighting`` and ``half_life_days`` params."""
        return user_item_matrix(
            interactions,
            self.user_index,
            self.item_index,
            weighting=self.params.get("weighting", default_weighting),
            half_life_days=self.params.get("half_life_days"),
            as_of=self.as_of,
        )

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> Self:
        """Learn from ``interactions`` (user_id, item_id, order_id, ts); ``items`` is the
        catalog (all its items are rankable), ``users`` optional user attributes."""
        interactions = str_ids(interactions)
        self.as_of = pd.Timestamp(interactions["ts"].max())
        known = set(interactions["item_id"])
        catalog = [] if items is None else items["item_id"].astype(str).tolist()
        extra = sorted(known - set(catalog))
        self.item_ids = np.asarray(list(dict.fromkeys(catalog)) + extra, dtype=object)
        self.item_index = {item: i for i, item in enumerate(self.item_ids)}
        self.user_ids = np.asarray(sorted(interactions["user_id"].unique()), dtype=object)
        self.user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.seen = binary(user_item_matrix(interactions, self.user_index, self.item_index))
        recent = buyers_between(
            interactions,
            self.item_index,
            self.as_of - pd.Timedelta(days=self.fallback_days),
            self.as_of,
        )
        overall = np.asarray(self.seen.sum(axis=0)).ravel()
        # Recent buyers first, all-time buyers break ties: the cold-start ranking.
        self.fallback = recent + overall / (overall.max() + 1.0)
        self.set_prior(interactions, self.prior_params)
        self._fit(interactions, items, users, on_epoch)
        return self

    def set_prior(self, interactions: pd.DataFrame, prior: dict[str, float] | None) -> Self:
        """(Re)compute the priors from the training ``interactions`` without refitting the
        model (tuning reuses a fitted model for prior-only changes): the item prior and
        the time-decayed user histories (``priors.HISTORY``) the model scores."""
        self.prior_params = dict(prior or {})
        item_prior = item_prior_params(self.prior_params)
        self.prior = (
            trend_prior(interactions, self.item_index, self.as_of, **item_prior)
            if self.nonnegative_scores and not is_neutral(item_prior)
            else None
        )
        half_life = self.prior_params.get(HISTORY) if self.decays_history else None
        self.history = (
            user_item_matrix(
                interactions,
                self.user_index,
                self.item_index,
                half_life_days=half_life,
                as_of=self.as_of,
            )
            if half_life
            else self.seen
        )
        return self

    def adopt_fitted(self, other: Recommender) -> None:
        """Take ``other``'s id maps, histories and fallback: a model made of models fitted
        on the same data (blend, mix) has no fit of its own."""
        for attr in ("as_of", "item_ids", "item_index", "user_ids", "user_index", "seen"):
            setattr(self, attr, getattr(other, attr))
        self.fallback = other.fallback
        self.prior = None

    @property
    def scored_history(self) -> sp.csr_matrix:
        """Users' bought items as the model scores them (time-decayed if the prior says so)."""
        # Models pickled before the history prior existed have no ``history``.
        return getattr(self, "history", self.seen)

    def user_histories(self, rows: np.ndarray) -> sp.csr_matrix:
        """Known users' histories as scored (rows of ``scored_history``)."""
        return self.scored_history[rows]

    @abstractmethod
    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None: ...

    @abstractmethod
    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores (len(rows) x n_items) for known users by row."""

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores for bare item histories; default: the popularity fallback."""
        return np.tile(self.fallback, (histories.shape[0], 1))

    # --- scoring -------------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def _with_prior(self, scores: np.ndarray) -> np.ndarray:
        if self.prior is None:
            return scores
        return (np.maximum(scores, 0.0) + 1e-9) * self.prior

    def score(
        self, user_ids: Sequence[str], recent: Sequence[Sequence[str]] | None = None
    ) -> tuple[np.ndarray, sp.csr_matrix]:
        """(scores, bought) for ``user_ids``; ``recent`` adds live items to each history.

        Known users without recent items are scored by the model; every other user by
        their (history + recent) items; empty histories get the popularity fallback.
        """
        user_ids = [str(u) for u in user_ids]
        recent = [list(r) for r in recent] if recent is not None else [[] for _ in user_ids]
        rows = np.array([self.user_index.get(u, -1) for u in user_ids], dtype=np.int64)
        live = history_rows(recent, self.item_index, self.n_items)
        known = rows >= 0
        pick = sp.csr_matrix(
            (np.ones(known.sum(), dtype=np.float32), (np.flatnonzero(known), rows[known])),
            shape=(len(user_ids), len(self.user_ids)),
        )
        hist = binary((pick @ self.seen + live).tocsr())
        scores = np.empty((len(user_ids), self.n_items), dtype=np.float64)
        plain = known & (np.diff(live.indptr) == 0)
        if plain.any():
            scores[plain] = self._score_users(rows[plain])
        other = np.flatnonzero(~plain)
        if len(other):
            empty = np.diff(hist[other].indptr) == 0
            part = np.empty((len(other), self.n_items), dtype=np.float64)
            if (~empty).any():
                keep = other[~empty]
                # What is scored: the history as the model scores it, live items at weight 1.
                sub = (pick[keep] @ self.scored_history).maximum(live[keep]).tocsr()
                part[~empty] = self._score_histories(sub)
            part[empty] = self.fallback
            scores[other] = part
        if self.prior is not None:  # without a prior the masked copy would change nothing
            has_hist = np.diff(hist.indptr) > 0
            scores[has_hist] = self._with_prior(scores[has_hist])
        return scores, hist

    def recommend(
        self,
        user_ids: Sequence[str],
        k: int,
        exclude: bool = True,
        recent: Sequence[Sequence[str]] | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` (user_id, rank, item_id, score); bought (and recent) items excluded.

        Exactly ``k`` rows per user unless fewer items are left after exclusion; ties are
        broken by catalog order, so results are deterministic for a fitted model.
        """
        user_ids = [str(u) for u in user_ids]
        recent = [list(r) for r in recent] if recent is not None else None
        parts = []
        chunk = max(1, min(CHUNK, MAX_CELLS // max(self.n_items, 1)))
        for start in range(0, len(user_ids), chunk):
            batch = user_ids[start : start + chunk]
            rec_batch = recent[start : start + chunk] if recent is not None else None
            scores, hist = self.score(batch, rec_batch)
            if not np.isfinite(scores).all():  # a full copy only when something is to mend
                scores = np.nan_to_num(scores, nan=-np.inf, posinf=np.finfo(np.float64).max)
            if exclude:
                scores[hist.nonzero()] = -np.inf
            kk = min(int(k), self.n_items)
            order = top_k_order(scores, kk)
            top = np.take_along_axis(scores, order, axis=1)
            valid = np.isfinite(top)
            users = np.repeat(np.asarray(batch, dtype=object), kk).reshape(len(batch), kk)
            ranks = np.tile(np.arange(1, kk + 1), (len(batch), 1))
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": users[valid],
                        "rank": ranks[valid],
                        "item_id": self.item_ids[order[valid]],
                        "score": top[valid],
                    }
                )
            )
        if not parts:
            return pd.DataFrame(columns=["user_id", "rank", "item_id", "score"])
        out = pd.concat(parts, ignore_index=True)
        return out.astype({"user_id": str, "item_id": str, "rank": np.int64, "score": float})


def top_k_order(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` best scores, best first, ties by column order.

    Same result as a full stable argsort cut at ``k``, but only the candidates at or above
    each row's k-th score are sorted (a 100k-item catalog sorts a few dozen per row).
    """
    n = scores.shape[1]
    if k >= n or n <= 4 * k:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for r in range(scores.shape[0]):
        cand = np.flatnonzero(scores[r] >= kth[r])
        out[r] = cand[np.argsort(-scores[r, cand], kind="stable")[:k]]
    return out
