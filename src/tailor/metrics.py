"""Ranking metrics: the project's only implementation (every pipeline imports from here).

Conventions (DESIGN.md, evaluation protocol):
- binary relevance; a user's ``relevant`` set is what they bought in the test window minus
  what they bought in train (the caller builds it with the same exclusion as candidates);
- only users with at least one relevant item are averaged; a user with relevant items but
  no recommendations counts with zeros (missing lists are failures, not skipped users);
- a recommendation list is de-duplicated (first occurrence wins) before it is cut at K, so
  a repeated item neither earns a second hit nor hides the next candidate;
- precision divides by K even when fewer than K items were recommended (empty slots are
  misses); recall divides by |relevant|; MAP@K and the ideal DCG use min(|relevant|, K),
  so a perfect list scores 1 whatever the number of relevant items;
- coverage is the share of the catalog (``n_items``) appearing in any user's top K;
- the next-basket protocol (below) keeps repeats in lists and truth and reports each metric
  split into its repeat and explore parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

RANKING_METRICS = ("precision", "recall", "map", "ndcg", "hit_rate")
"""Per-user ranking metrics; ``coverage`` is a property of all lists together."""


def metric_key(metric: str, k: int) -> str:
    """The one spelling of a metric name: ``ndcg_at_10``."""
    return f"{metric}_at_{k}"


def dedupe(items: Iterable[str]) -> list[str]:
    """Items in order of first appearance."""
    return list(dict.fromkeys(items))


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def hit_matrix(
    recommended: Mapping[str, Sequence[str]],
    relevant: Mapping[str, set[str]],
    users: Sequence[str],
    max_k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, n_relevant)``: hits[u, r] is True when user u's de-duplicated rank r+1 is
    relevant (empty slots are False); every metric at every K <= ``max_k`` derives from it."""
    hits = np.zeros((len(users), max_k), dtype=bool)
    n_rel = np.zeros(len(users), dtype=float)
    for row, user in enumerate(users):
        rel = relevant[user]
        n_rel[row] = len(rel)
        top = dedupe(recommended.get(user, ()))[:max_k]
        hits[row, : len(top)] = [item in rel for item in top]
    return hits, n_rel


def metrics_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user precision, recall, AP, NDCG and hit at ``k`` (the definitions of this module)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if (n_rel < 1).any():
        raise ValueError("a user without relevant items is not evaluated")
    h = np.zeros((hits.shape[0], k), dtype=float)
    width = min(k, hits.shape[1])
    h[:, :width] = hits[:, :width]
    n_hits = h.sum(axis=1)
    disc = _discounts(k)
    ideal = np.minimum(n_rel, k)
    idcg = np.cumsum(disc)[ideal.astype(int) - 1]
    # AP@K: mean of precision@i over the ranks i of hits, normalised by min(|relevant|, K)
    precision_at_i = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / n_rel,
        "map": (precision_at_i * h).sum(axis=1) / ideal,
        "ndcg": (h * disc).sum(axis=1) / idcg,
        "hit_rate": (n_hits > 0).astype(float),
    }


def user_metrics_at_k(recommended: Sequence[str], relevant: set[str], k: int) -> dict[str, float]:
    """Precision, recall, AP, NDCG and hit of one user's list at ``k`` (``relevant`` non-empty)."""
    if not relevant:
        raise ValueError("a user without relevant items is not evaluated")
    hits, n_rel = hit_matrix({"u": recommended}, {"u": relevant}, ["u"], max(k, 1))
    return {m: float(v[0]) for m, v in metrics_from_hits(hits, n_rel, k).items()}


def evaluated_users(relevant: Mapping[str, set[str]]) -> list[str]:
    """Users with at least one relevant item, sorted: the population every average runs over."""
    return sorted(u for u, items in relevant.items() if items)


def per_user_ranking_metrics(
    recommended: Mapping[str, Sequence[str]],
    relevant: Mapping[str, set[str]],
    ks: Sequence[int],
) -> pd.DataFrame:
    """One row per evaluated user (index ``user_id``), columns ``<metric>_at_<k>``.

    The row-wise mean is ``ranking_metrics``; the rows feed bootstrap intervals and group
    breakdowns, so every breakdown averages exactly the same per-user numbers.
    """
    users = evaluated_users(relevant)
    hits, n_rel = hit_matrix(recommended, relevant, users, max(ks))
    data = {}
    for k in ks:
        values = metrics_from_hits(hits, n_rel, k)
        data.update({metric_key(m, k): values[m] for m in RANKING_METRICS})
    return pd.DataFrame(data, index=pd.Index(users, name="user_id", dtype=object), dtype=float)


def coverage(recommended: Mapping[str, Sequence[str]], k: int, n_items: int) -> float:
    """Distinct items in the users' top ``k`` as a share of ``n_items`` catalog items."""
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, got {n_items}")
    shown: set[str] = set()
    for recs in recommended.values():
        shown.update(dedupe(recs)[:k])
    return len(shown) / n_items


def ranking_metrics(
    recommended: dict[str, list[str]],
    relevant: dict[str, set[str]],
    ks: list[int],
    n_items: int,
) -> dict[str, float]:
    """Mean precision/recall/MAP/NDCG/hit rate over evaluated users, coverage, ``n_users``.

    Coverage counts the lists of the evaluated users only, so it describes the same
    population as the other numbers.
    """
    per_user = per_user_ranking_metrics(recommended, relevant, ks)
    out: dict[str, float] = {"n_users": float(len(per_user))}
    means = per_user.mean() if len(per_user) else pd.Series(0.0, index=per_user.columns)
    evaluated = {u: recommended.get(u, []) for u in per_user.index}
    for k in ks:
        for m in RANKING_METRICS:
            out[metric_key(m, k)] = float(means[metric_key(m, k)])
        out[metric_key("coverage", k)] = coverage(evaluated, k, n_items)
    return out


# --- next-basket protocol -------------------------------------------------------------
# Truth: every item a known customer bought in the window, repeats included. Each of recall,
# NDCG and hit rate is split into its repeat part (hits on items the user bought before)
# and its explore part (hits on new items): recall and NDCG parts add up to the whole
# (both are divided by the same |basket| / ideal DCG); hit rate parts say whether any
# repeat (explore) item was hit. ``repeat_share_list`` is the share of the K slots holding
# items the user bought before; ``repeat_share_truth`` the share of the basket that repeats.

NEXT_BASKET_METRICS = (
    "recall",
    "ndcg",
    "hit_rate",
    "recall_repeat",
    "recall_explore",
    "ndcg_repeat",
    "ndcg_explore",
    "hit_rate_repeat",
    "hit_rate_explore",
    "repeat_share_list",
)


def per_user_next_basket_metrics(
    recommended: Mapping[str, Sequence[str]],
    basket: Mapping[str, set[str]],
    bought_before: Mapping[str, set[str]],
    ks: Sequence[int],
) -> pd.DataFrame:
    """One row per user with a non-empty basket (index ``user_id``): ``<metric>_at_<k>``
    for ``NEXT_BASKET_METRICS`` and ``repeat_share_truth``; lists are NOT filtered by
    past purchases (re-buying is what this protocol measures)."""
    users = evaluated_users(basket)
    max_k = max(ks)
    before = {u: bought_before.get(u, set()) for u in users}
    repeats = {u: basket[u] & before[u] for u in users}
    hits, n_rel = hit_matrix(recommended, basket, users, max_k)
    rep_hits, _ = hit_matrix(recommended, repeats, users, max_k)
    in_history, _ = hit_matrix(recommended, before, users, max_k)
    data: dict[str, np.ndarray] = {}
    for k in ks:
        whole = metrics_from_hits(hits, n_rel, k)
        rep = metrics_from_hits(rep_hits, n_rel, k)
        exp = metrics_from_hits(hits & ~rep_hits, n_rel, k)
        for m in ("recall", "ndcg", "hit_rate"):
            data[metric_key(m, k)] = whole[m]
            data[metric_key(f"{m}_repeat", k)] = rep[m]
            data[metric_key(f"{m}_explore", k)] = exp[m]
        data[metric_key("repeat_share_list", k)] = in_history[:, :k].sum(axis=1) / k
    data["repeat_share_truth"] = np.array(
        [len(repeats[u]) / len(basket[u]) for u in users], dtype=float
    )
    return pd.DataFrame(data, index=pd.Index(users, name="user_id", dtype=object), dtype=float)


def next_basket_metrics(
    recommended: Mapping[str, Sequence[str]],
    basket: Mapping[str, set[str]],
    bought_before: Mapping[str, set[str]],
    ks: Sequence[int],
) -> dict[str, float]:
    """Means of ``per_user_next_basket_metrics`` plus ``n_users``."""
    per_user = per_user_next_basket_metrics(recommended, basket, bought_before, ks)
    out = {"n_users": float(len(per_user))}
    out.update({c: float(per_user[c].mean()) if len(per_user) else 0.0 for c in per_user})
    return out


# --- beyond accuracy -------------------------------------------------------------------


def self_information(item_users: Mapping[str, int], n_users: int) -> dict[str, float]:
    """-log2 p(item), p = (buyers + 1) / (n_users + 1) in the training window.

    The +1 keeps items nobody bought in train finite (and the most novel); a popular item
    bought by everyone scores 0.
    """
    if n_users < 0:
        raise ValueError("n_users must be >= 0")
    return {item: -math.log2((c + 1) / (n_users + 1)) for item, c in item_users.items()}


def novelty_at_k(
    recommended: Sequence[str], info: Mapping[str, float], k: int, default: float
) -> float:
    """Mean self-information of the top ``k`` (``default`` for items without train history)."""
    top = dedupe(recommended)[:k]
    if not top:
        return float("nan")
    return float(np.mean([info.get(item, default) for item in top]))


class ItemSimilarity:
    """Cosine similarity between items from L2-normalised vectors (e.g. TF-IDF of item text)."""

    def __init__(self, item_ids: Sequence[str], vectors: sparse.spmatrix | np.ndarray) -> None:
        if len(item_ids) != vectors.shape[0]:
            raise ValueError("one vector per item id")
        matrix = sparse.csr_matrix(vectors, dtype=float)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self.matrix = sparse.diags(1.0 / norms) @ matrix
        self.index = {item: i for i, item in enumerate(item_ids)}

    @classmethod
    def from_text(cls, item_ids: Sequence[str], texts: Sequence[str]) -> ItemSimilarity:
        """TF-IDF (unigrams and bigrams) over the item texts."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectors = TfidfVectorizer(ngram_range=(1, 2), min_df=1).fit_transform(
            [t or "" for t in texts]
        )
        return cls(item_ids, vectors)

    def intra_list_diversity(self, items: Sequence[str]) -> float:
        """1 - mean pairwise cosine similarity of the known items; NaN below two items."""
        return self.diversity_at_ks(items, [len(items)])[0] if items else float("nan")

    def diversity_at_ks(self, items: Sequence[str], ks: Sequence[int]) -> list[float]:
        """Intra-list diversity of the top k (de-duplicated) items for each k, one product.

        Items without a vector (unknown to the catalog) are left out of the pairs.
        """
        top = dedupe(items)[: max(ks, default=0)]
        pos = [p for p, item in enumerate(top) if item in self.index]
        sub = self.matrix[[self.index[top[p]] for p in pos]]
        sim = (sub @ sub.T).toarray() if pos else np.zeros((0, 0))
        pos_arr = np.asarray(pos, dtype=int)
        out = []
        for k in ks:
            n = int((pos_arr < k).sum())
            if n < 2:
                out.append(float("nan"))
                continue
            block = sim[:n, :n]
            mean_pair = (block.sum() - np.trace(block)) / (n * (n - 1))
            out.append(float(1.0 - mean_pair))
        return out


def per_user_beyond_accuracy(
    recommended: Mapping[str, Sequence[str]],
    users: Sequence[str],
    ks: Sequence[int],
    info: Mapping[str, float],
    similarity: ItemSimilarity | None,
) -> pd.DataFrame:
    """``novelty_at_<k>`` and ``diversity_at_<k>`` per user (index ``user_id``)."""
    default = max(info.values()) if info else 0.0
    data: dict[str, list[float]] = {metric_key("novelty", k): [] for k in ks}
    if similarity is not None:
        data.update({metric_key("diversity", k): [] for k in ks})
    for user in users:
        recs = recommended.get(user, [])
        for k in ks:
            data[metric_key("novelty", k)].append(novelty_at_k(recs, info, k, default))
        if similarity is not None:
            for k, value in zip(ks, similarity.diversity_at_ks(recs, ks), strict=True):
                data[metric_key("diversity", k)].append(value)
    return pd.DataFrame(data, index=pd.Index(list(users), name="user_id", dtype=object))


# --- frames -> dicts --------------------------------------------------------------------


def lists_from_frame(
    recs: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id"
) -> dict[str, list[str]]:
    """Ranked lists from long rows (``rank`` ascending; ties broken by item id)."""
    if recs.empty:
        return {}
    ordered = recs.sort_values([user_col, "rank", item_col], kind="mergesort")
    return {
        str(u): [str(i) for i in items]
        for u, items in ordered.groupby(user_col, sort=False)[item_col]
    }


def relevant_sets(
    test: pd.DataFrame, train: pd.DataFrame | None = None, users: Iterable[str] | None = None
) -> dict[str, set[str]]:
    """Items each user bought in test and not in train (the hold-out truth of DESIGN.md)."""
    pairs = test[["user_id", "item_id"]].astype(str).drop_duplicates()
    if train is not None and not train.empty:
        seen = train[["user_id", "item_id"]].astype(str).drop_duplicates()
        pairs = pairs.merge(seen, how="left", indicator=True)
        pairs = pairs[pairs["_merge"] == "left_only"].drop(columns="_merge")
    if users is not None:
        pairs = pairs[pairs["user_id"].isin(set(map(str, users)))]
    return {u: set(items) for u, items in pairs.groupby("user_id")["item_id"]}


def basket_sets(test: pd.DataFrame, users: Iterable[str] | None = None) -> dict[str, set[str]]:
    """Every item each user bought in ``test``, repeats included (the next-basket truth)."""
    return relevant_sets(test, None, users)


def bought_sets(lines: pd.DataFrame) -> dict[str, set[str]]:
    """Items each user bought in ``lines`` (what makes a next-basket item a repeat)."""
    return relevant_sets(lines)
