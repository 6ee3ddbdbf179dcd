"""LightFM hybrid (WARP or BPR): identity features plus user attributes (segment, country,
RFM bands, demographics where present) and item features (description tokens, category,
price band). Trained epoch by epoch so tuning can prune on validation NDCG."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.progress import progress
from tailor.recommenders.base import EpochCallback, Recommender

TOKEN = re.compile(r"[a-z]{3,}")


def item_feature_lists(
    items: pd.DataFrame | None, item_ids: np.ndarray, n_price_bands: int, max_tokens: int
) -> tuple[list[list[str]], list[str]]:
    """Per item: ``tok:<word>`` (the ``max_tokens`` most frequent words), ``cat:<category>``,
    ``price:<band>``; plus the vocabulary."""
    if items is None or items.empty:
        return [[] for _ in item_ids], []
    frame = items.astype({"item_id": str}).drop_duplicates("item_id").set_index("item_id")
    frame = frame.reindex(item_ids)
    text = frame.get("text", frame.get("description", pd.Series("", index=frame.index)))
    tokens = [TOKEN.findall(str(t).lower()) if isinstance(t, str) else [] for t in text]
    counts = pd.Series([w for ws in tokens for w in set(ws)]).value_counts()
    keep = set(counts.index[:max_tokens])
    price = pd.to_numeric(frame.get("price", pd.Series(np.nan, index=frame.index)), "coerce")
    bands = (
        pd.qcut(price.rank(method="first"), n_price_bands, labels=False)
        if price.notna().sum() >= n_price_bands
        else pd.Series(np.nan, index=frame.index)
    )
    cats = frame.get("category", pd.Series(np.nan, index=frame.index))
    lists = []
    for ws, band, cat in zip(tokens, bands, cats, strict=True):
        feats = [f"tok:{w}" for w in sorted(set(ws) & keep)]
        if isinstance(cat, str):
            feats.append(f"cat:{cat}")
        if not pd.isna(band):
            feats.append(f"price:{int(band)}")
        lists.append(feats)
    vocab = sorted({f for fs in lists for f in fs})
    return lists, vocab


def user_feature_lists(
    users: pd.DataFrame | None, user_ids: np.ndarray
) -> tuple[list[list[str]], list[str]]:
    """``<column>:<value>`` for every attribute column of ``users`` (strings)."""
    if users is None or users.empty:
        return [[] for _ in user_ids], []
    frame = users.astype({"user_id": str}).drop_duplicates("user_id").set_index("user_id")
    frame = frame.reindex(user_ids)
    cols = [c for c in frame.columns if c != "user_id"]
    lists = [
        [f"{c}:{v}" for c, v in zip(cols, row, strict=True) if not pd.isna(v)]
        for row in frame[cols].itertuples(index=False)
    ]
    vocab = sorted({f for fs in lists for f in fs})
    return lists, vocab


def feature_matrix(lists: list[list[str]], vocab: list[str], identity: bool) -> sp.csr_matrix:
    """Rows: entity identity (optional) + its features, each row normalised to sum 1."""
    n = len(lists)
    index = {f: i for i, f in enumerate(vocab)}
    offset = n if identity else 0
    rows, cols = [], []
    if identity:
        rows += list(range(n))
        cols += list(range(n))
    for r, feats in enumerate(lists):
        for f in feats:
            rows.append(r)
            cols.append(offset + index[f])
    data = np.ones(len(rows), dtype=np.float32)
    x = sp.csr_matrix((data, (rows, cols)), shape=(n, offset + len(vocab)))
    sums = np.asarray(x.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ x, dtype=np.float32)


class LightFmRecommender(Recommender):
    name = "lightfm"

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        on_epoch: EpochCallback | None,
    ) -> None:
        from lightfm import LightFM

        p = self.params
        hybrid = bool(p.get("hybrid", True))
        item_lists, item_vocab = item_feature_lists(
            items if hybrid else None,
            self.item_ids,
            int(p.get("price_bands", 5)),
            int(p.get("max_tokens", 500)),
        )
        user_lists, user_vocab = user_feature_lists(users if hybrid else None, self.user_ids)
        self.item_features = feature_matrix(item_lists, item_vocab, identity=True)
        self.user_features = feature_matrix(user_lists, user_vocab, identity=True)
        x = self.weighted_matrix(interactions, "binary").tocoo()
        self.model = LightFM(
            no_components=int(p.get("components", 10)),
            loss=str(p.get("loss", "warp")),
            learning_rate=float(p.get("learning_rate", 0.05)),
            item_alpha=float(p.get("item_alpha", 0.0)),
            user_alpha=float(p.get("user_alpha", 0.0)),
            max_sampled=int(p.get("max_sampled", 10)),
            random_state=np.random.RandomState(self.seed),
        )
        interactions_binary = sp.coo_matrix(
            (np.ones_like(x.data), (x.row, x.col)), shape=x.shape, dtype=np.int32
        )
        weights = x.astype(np.float32) if p.get("weighting", "binary") != "binary" else None
        for epoch in progress(range(int(p.get("epochs", 10))), "lightfm epochs", unit="epoch"):
            self.model.fit_partial(
                interactions_binary,
                user_features=self.user_features,
                item_features=self.item_features,
                sample_weight=weights,
                epochs=1,
                num_threads=1,
            )
            self._cache()
            if on_epoch is not None:
                on_epoch(epoch + 1, self)

    def _cache(self) -> None:
        self.item_bias, self.item_repr = self.model.get_item_representations(self.item_features)
        _, self.user_repr = self.model.get_user_representations(self.user_features)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return (self.user_repr[rows] @ self.item_repr.T + self.item_bias).astype(np.float64)

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        counts = np.asarray(histories.sum(axis=1)).ravel()
        profile = (histories @ self.item_repr) / np.maximum(counts, 1.0)[:, None]
        return (profile @ self.item_repr.T + self.item_bias).astype(np.float64)
