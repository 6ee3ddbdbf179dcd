"""Repeat ranker: which of a customer's past items they buy again, learned from the fit
data's own last ``label_days`` (self-supervised by time: nothing after the fit data's end).

TIFU-KNN ranks past items by one decayed frequency; whether an item is bought again also
depends on the item (a staple is re-bought by most of its buyers, a gift by none), on how
overdue it is against the customer's own interval, and on what sells now. The ranker
scores each (customer, past item) pair with a logistic regression over those features
(``FEATURES``), trained on the pairs as of ``ts <= end - label_days`` with label "bought
in the last ``label_days``" (customers who bought anything then), and applied to the
features as of the end of the fit data. Items never bought come after, by popularity (as
P-TopFreq fills). Too few labelled pairs (a short history): the TIFU-KNN score alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.base import EpochCallback, Recommender
from tailor.recommenders.priors import repeat_share
from tailor.recommenders.repeat_history import fill_scores, order_items, personal_first
from tailor.recommenders.tifu_knn import TifuKnnRecommender

FEATURES = (
    "tifu",  # TIFU-KNN's personal vector (paper defaults; its neighbour part added nothing)
    "tifu_rel",  # ... over the customer's best
    "log_rank",  # log of its rank among the customer's past items
    "log_orders_with",  # log(1 + orders holding the item)
    "share_of_orders",  # orders holding the item / the customer's orders
    "log_days_since",  # log(1 + days since the customer last bought it)
    "log_overdue",  # log(1 + days since / the customer's mean interval for it); 0 if once
    "bought_twice",  # 1 if the customer bought it in two orders or more
    "log_user_orders",  # log(1 + the customer's orders)
    "log_user_idle",  # log(1 + days since the customer's last order)
    "item_repeat_rate",  # (re-buyers + 1) / (buyers + 2) over all customers
    "log_item_recent",  # log(1 + the item's buyers in the last 30 days)
)
MIN_POSITIVES = 20


def pair_features(
    lines: pd.DataFrame, as_of: pd.Timestamp, tifu: TifuKnnRecommender
) -> pd.DataFrame:
    """One row per (user_id, item_id) bought in ``lines`` (items ``tifu`` ranks), with
    ``FEATURES`` as of ``as_of``; ``tifu`` is fitted on the same lines."""
    df = order_items(lines)
    df = df[df["item_id"].isin(tifu.item_index.keys())]
    pairs = (
        df.groupby(["user_id", "item_id"], sort=True)
        .agg(n=("order_id", "size"), first=("ts", "min"), last=("ts", "max"))
        .reset_index()
    )
    users = df.groupby("user_id").agg(orders=("order_id", "nunique"), user_last=("ts", "max"))
    pairs = pairs.join(users, on="user_id")

    def days(t: pd.Series) -> np.ndarray:
        return np.clip((as_of - t).dt.total_seconds().to_numpy() / 86400.0, 0, None)

    since = days(pairs["last"])
    n = pairs["n"].to_numpy(np.float64)
    span = (pairs["last"] - pairs["first"]).dt.total_seconds().to_numpy() / 86400.0
    interval = np.maximum(span / np.maximum(n - 1, 1), 1.0)
    recent = df[df["ts"] > as_of - pd.Timedelta(days=30)].groupby("item_id")["user_id"].nunique()
    out = pairs[["user_id", "item_id"]].copy()
    out["tifu"] = _vector_at(tifu, pairs)
    best = out.groupby("user_id")["tifu"].transform("max").to_numpy()
    out["tifu_rel"] = out["tifu"] / np.maximum(best, 1e-12)
    rank = out.groupby("user_id")["tifu"].rank(ascending=False, method="first")
    out["log_rank"] = np.log(rank.to_numpy())
    out["log_orders_with"] = np.log1p(n)
    out["share_of_orders"] = n / pairs["orders"].to_numpy(np.float64)
    out["log_days_since"] = np.log1p(since)
    out["log_overdue"] = np.where(n > 1, np.log1p(since / interval), 0.0)
    out["bought_twice"] = (n > 1).astype(np.float64)
    out["log_user_orders"] = np.log1p(pairs["orders"].to_numpy(np.float64))
    out["log_user_idle"] = np.log1p(days(pairs["user_last"]))
    rate = repeat_share(lines, tifu.item_index, 2.0)
    out["item_repeat_rate"] = rate[pairs["item_id"].map(tifu.item_index).to_numpy(np.int64)]
    out["log_item_recent"] = np.log1p(pairs["item_id"].map(recent).fillna(0.0).to_numpy())
    return out.reset_index(drop=True)


def _vector_at(tifu: TifuKnnRecommender, pairs: pd.DataFrame) -> np.ndarray:
    """TIFU-KNN's personal vector (its decayed item frequency) at the ``pairs``."""
    rows = pairs["user_id"].map(tifu.user_index).to_numpy(np.int64)
    cols = pairs["item_id"].map(tifu.item_index).to_numpy(np.int64)
    return np.asarray(tifu.vectors[rows, cols]).ravel()


class RepeatRankerRecommender(Recommender):
    name = "repeat_ranker"

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        label_days = float(self.params.get("label_days", 30))
        cut = self.as_of - pd.Timedelta(days=label_days)
        early = interactions[interactions["ts"] <= cut]
        later = interactions[interactions["ts"] > cut]
        self.coef: np.ndarray | None = None
        if len(early) and len(later):
            x, y = self._training_pairs(early, later, cut, items)
            if y.sum() >= MIN_POSITIVES and (~y).sum() >= MIN_POSITIVES:
                # imported here: a served (unpickled) ranker keeps only its coefficients
                from sklearn.linear_model import LogisticRegression

                self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-9
                clf = LogisticRegression(C=float(self.params.get("c", 1.0)), max_iter=1000)
                clf.fit((x - self.mean) / self.std, y)
                self.coef, self.intercept = clf.coef_.ravel(), float(clf.intercept_[0])
        tifu = TifuKnnRecommender(seed=self.seed).fit(interactions, items)
        pairs = pair_features(interactions, self.as_of, tifu)
        prob = self._probability(pairs)
        self.prob = sp.csr_matrix(
            (
                prob,
                (
                    pairs["user_id"].map(self.user_index).to_numpy(np.int64),
                    pairs["item_id"].map(self.item_index).to_numpy(np.int64),
                ),
            ),
            shape=(len(self.user_ids), self.n_items),
        )
        self.fill = fill_scores(self.fallback)

    def _training_pairs(
        self,
        early: pd.DataFrame,
        later: pd.DataFrame,
        cut: pd.Timestamp,
        items: pd.DataFrame | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features as of ``cut`` of the past items of customers who bought in ``later``,
        labelled by whether they bought the item again there."""
        tifu = TifuKnnRecommender(seed=self.seed).fit(early, items)
        pairs = pair_features(early, cut, tifu)
        pairs = pairs[pairs["user_id"].isin(set(later["user_id"]))]
        again = set(zip(later["user_id"], later["item_id"], strict=True))
        y = np.fromiter(
            ((u, i) in again for u, i in zip(pairs["user_id"], pairs["item_id"], strict=True)),
            dtype=bool,
            count=len(pairs),
        )
        return pairs[list(FEATURES)].to_numpy(np.float64), y

    def _probability(self, pairs: pd.DataFrame) -> np.ndarray:
        """P(bought again) of each pair; without a learned model, TIFU-KNN's score scaled
        into (0, 1). Strictly positive: a past item stays above every never-bought one."""
        if self.coef is None:
            tifu = pairs["tifu"].to_numpy()
            return np.maximum(tifu / max(float(tifu.max(initial=0.0)), 1e-12), 1e-9)
        x = (pairs[list(FEATURES)].to_numpy(np.float64) - self.mean) / self.std
        return np.maximum(1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept))), 1e-9)

    @property
    def scored_history(self) -> sp.csr_matrix:
        # live items (weight 1 in base.score) join the learned probabilities
        return self.prob

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._score_histories(self.prob[rows])

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        dense = histories.toarray().astype(np.float64)
        return personal_first(dense, dense, self.fill)
