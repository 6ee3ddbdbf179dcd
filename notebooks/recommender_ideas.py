"""Model ideas scored on the recommender's validation windows only (never the test window).

`python notebooks/recommender_ideas.py [--env base|complete_journey]` (data_engineering and
segmentation outputs must exist): builds the pipeline's validation windows with its own
node and prints every idea's mean and per-window NDCG@10 next to the pipeline's own
configurations. The figures of docs/recommender.md ("What else was tried") come from here.
The ideas that did not raise validation live only in this file; the one that did (the
history half-life) is `priors.HISTORY` in the package.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack
from sklearn.preprocessing import normalize

from tailor.metrics import ranking_metrics
from tailor.recommenders import ease as ease_module
from tailor.recommenders.base import Recommender
from tailor.recommenders.blend_tuning import blend_candidates, blend_lists
from tailor.recommenders.ease import EaseRecommender
from tailor.recommenders.matrix import user_item_matrix
from tailor.recommenders.registry import CANDIDATES, make_candidate
from tailor.recommenders.tuning import evaluate_on_windows
from tailor.recommenders.windows import Window

ROOT = Path(__file__).resolve().parents[1]


class Rp3BetaRecommender(Recommender):
    """RP3beta (Paudel et al. 2017): two-step random walk item -> user -> item, divided by
    the target item's popularity ** beta, top-``neighbours`` per item, rows summing to 1."""

    name = "rp3beta"
    nonnegative_scores = True

    def _fit(self, interactions: pd.DataFrame, items: Any, users: Any, on_epoch: Any) -> None:
        x = self.weighted_matrix(interactions, "binary")
        p_ui = sp.diags(1.0 / np.maximum(np.asarray(x.sum(1)).ravel(), 1e-12)) @ x
        xt = x.T.tocsr()
        p_iu = sp.diags(1.0 / np.maximum(np.asarray(xt.sum(1)).ravel(), 1e-12)) @ xt
        pop = np.asarray((x > 0).sum(0)).ravel()
        penalty = 1.0 / np.maximum(pop, 1) ** float(self.params.get("beta", 0.5))
        walk = (p_iu @ p_ui.tocsc()).tocsr() @ sp.diags(penalty)
        top = top_k_rows(walk, int(self.params.get("neighbours", 100)))
        self.similarity = normalize(top, norm="l1").astype(np.float32).tocsr()

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._score_histories(self.seen[rows])

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return np.asarray((histories @ self.similarity).toarray(), dtype=np.float64)


def top_k_rows(m: sp.spmatrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries (no self-similarity)."""
    m = sp.csr_matrix(m, dtype=np.float32)
    m.setdiag(0.0)
    m.eliminate_zeros()
    rows, cols, vals = [], [], []
    for i in range(m.shape[0]):
        data = m.data[m.indptr[i] : m.indptr[i + 1]]
        idx = m.indices[m.indptr[i] : m.indptr[i + 1]]
        if len(data) > k:
            keep = np.argpartition(-data, k - 1)[:k]
            data, idx = data[keep], idx[keep]
        rows.append(np.full(len(data), i))
        cols.append(idx)
        vals.append(data)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape
    )


class EdlaeRecommender(EaseRecommender):
    """EASE with a dropout-style penalty (Steck 2020): ``lam + p/(1-p) * diag(G)``."""

    name = "edlae"

    def _fit(self, interactions: pd.DataFrame, items: Any, users: Any, on_epoch: Any) -> None:
        p = float(self.params.get("dropout", 0.0))
        plain = ease_module.ease_weights

        def weights(x: sp.csr_matrix, lam: float) -> np.ndarray:
            gram = (x.T @ x).toarray().astype(np.float32)
            diag = np.diag_indices_from(gram)
            gram[diag] += np.float32(lam) + np.float32(p / (1 - p)) * gram[diag]
            chol, _ = lapack.spotrf(gram, lower=True)
            inv, _ = lapack.spotri(chol, lower=True)
            inv = np.tril(inv) + np.tril(inv, -1).T
            b = inv / (-np.diag(inv))
            b[diag] = 0.0
            return b.astype(np.float32)

        ease_module.ease_weights = weights  # type: ignore[assignment]
        try:
            super()._fit(interactions, items, users, on_epoch)
        finally:
            ease_module.ease_weights = plain


class UserWeightedEaseRecommender(EaseRecommender):
    """EASE on a Gram matrix where a user with n items weighs n ** -user_exponent."""

    name = "ease_user_weighted"

    def weighted_matrix(self, interactions: pd.DataFrame, default: str) -> sp.csr_matrix:
        x = super().weighted_matrix(interactions, default)
        n = np.maximum(np.asarray((x > 0).sum(1)).ravel(), 1)
        g = float(self.params.get("user_exponent", 0.0))
        return (sp.diags((n ** (-g / 2)).astype(np.float32)) @ x).tocsr()


class UserKnnRecommender(Recommender):
    """User-user cosine kNN; neighbours' purchases weigh 0.5 ** (age / half_life_days)."""

    name = "user_knn"
    nonnegative_scores = True

    def _fit(self, interactions: pd.DataFrame, items: Any, users: Any, on_epoch: Any) -> None:
        sim = user_item_matrix(
            interactions,
            self.user_index,
            self.item_index,
            half_life_days=self.params.get("sim_half_life_days"),
            as_of=self.as_of,
        )
        self.unit = normalize(sim).astype(np.float32).tocsr()
        self.bought = user_item_matrix(
            interactions,
            self.user_index,
            self.item_index,
            half_life_days=self.params.get("half_life_days"),
            as_of=self.as_of,
        )

    def _neighbour_scores(self, vectors: sp.csr_matrix, rows: np.ndarray | None) -> np.ndarray:
        s = (vectors @ self.unit.T).toarray()
        if rows is not None:
            s[np.arange(len(rows)), rows] = 0.0
        k = min(int(self.params.get("neighbours", 100)), s.shape[1] - 1)
        idx = np.argpartition(-s, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(s, idx, 1) ** float(self.params.get("sim_power", 1.0))
        top = sp.csr_matrix(
            (vals.ravel(), (np.repeat(np.arange(len(s)), k), idx.ravel())), shape=s.shape
        )
        return np.asarray((top @ self.bought).toarray(), dtype=np.float64)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._neighbour_scores(self.unit[rows], rows)

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return self._neighbour_scores(normalize(histories), None)


class AdoptedAfterRecommender(Recommender):
    """Directed item-item: how many users first bought j in a later ``period_days`` period
    than i, scaled by adopters(i) ** -alpha and adopters(j) ** -beta."""

    name = "adopted_after"
    nonnegative_scores = True

    def _fit(self, interactions: pd.DataFrame, items: Any, users: Any, on_epoch: Any) -> None:
        first = interactions.groupby(["user_id", "item_id"], sort=False)["ts"].min().reset_index()
        period = (first["ts"] - first["ts"].min()).dt.days.to_numpy() // int(
            self.params.get("period_days", 30)
        )
        r = first["user_id"].map(self.user_index).to_numpy()
        c = first["item_id"].map(self.item_index).to_numpy()
        shape = (len(self.user_ids), self.n_items)
        before = sp.csr_matrix(shape, dtype=np.float32)
        after = sp.csr_matrix((self.n_items, self.n_items), dtype=np.float32)
        for b in range(int(period.max()) + 1):
            m = period == b
            new = sp.csr_matrix((np.ones(m.sum(), np.float32), (r[m], c[m])), shape=shape)
            after = after + before.T @ new
            before = before + new
        adopters = np.maximum(np.asarray(before.sum(0)).ravel(), 1)
        alpha, beta = float(self.params.get("alpha", 0.5)), float(self.params.get("beta", 0.5))
        scaled = sp.diags(adopters**-alpha) @ after @ sp.diags(adopters**-beta)
        self.similarity = top_k_rows(scaled, int(self.params.get("neighbours", 100)))

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._score_histories(self.seen[rows])

    def _score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return np.asarray((histories @ self.similarity).toarray(), dtype=np.float64)


IDEAS: dict[str, type[Recommender]] = {
    "rp3beta": Rp3BetaRecommender,
    "edlae": EdlaeRecommender,
    "ease_user_weighted": UserWeightedEaseRecommender,
    "user_knn": UserKnnRecommender,
    "adopted_after": AdoptedAfterRecommender,
}

PRIOR = {"prior_recent_days": 30, "prior_long_days": 90, "prior_smoothing": 1.0}
EASE = {"lam": 300, "half_life_days": 180, "max_items": 5000}
EASE_TUNED = {**EASE, **PRIOR, "prior_trend_exponent": 0.25}
KNN_TUNED = {"neighbours": 20, "weighting": "log", "half_life_days": 365, **PRIOR,
             "prior_recent_days": 45, "prior_long_days": 180, "prior_smoothing": 5.0,
             "prior_trend_exponent": 0.5}  # fmt: skip
HIST = {"prior_history_half_life_days": 180}

RUNS: list[tuple[str, dict[str, Any]]] = [
    ("popularity", {"scope": "global"}),
    ("ease", EASE),
    ("ease", {**EASE, "prior_history_half_life_days": 90}),
    ("ease", EASE_TUNED),
    ("ease", {**EASE_TUNED, **HIST}),
    ("item_knn", KNN_TUNED),
    ("item_knn", {**KNN_TUNED, "prior_history_half_life_days": 90}),
    *[("rp3beta", {"beta": b, "neighbours": k}) for b in (0.3, 0.5, 0.6, 0.7, 1.0)
      for k in (50, 100, 200)],
    *[("edlae", {**EASE, "lam": lam, "dropout": p}) for lam in (150, 300) for p in (0.1, 0.5)],
    *[("ease_user_weighted", {**EASE, "lam": lam, "user_exponent": g})
      for lam, g in ((30, 0.5), (100, 0.25), (300, 0.5))],
    *[("user_knn", {"neighbours": k, "half_life_days": 30, "sim_half_life_days": 180,
                    "sim_power": 2.0}) for k in (50, 100, 200)],
    ("adopted_after", {"beta": 0.3}),
    ("adopted_after", {"beta": 0.5}),
]  # fmt: skip

BLENDS: list[list[tuple[str, dict[str, Any]]]] = [
    [("ease", {**EASE_TUNED, **HIST}), ("item_knn", KNN_TUNED)],
    [("ease", {**EASE_TUNED, **HIST}), ("item_knn", KNN_TUNED),
     ("als", {"factors": 128, "regularization": 100.0, "alpha": 20.0, "weighting": "log",
              "half_life_days": 365, "iterations": 15, "num_threads": 1})],
    [("ease", {**EASE_TUNED, **HIST}), ("item_knn", KNN_TUNED),
     ("user_knn", {"neighbours": 100, "half_life_days": 30, "sim_half_life_days": 180,
                   "sim_power": 2.0})],
]  # fmt: skip


def load_windows(env: str) -> list[Window]:
    """The pipeline's validation windows (its own node on the catalog's inputs)."""
    from tailor.recommenders.project_windows import load_windows as project_windows

    return project_windows(ROOT, env)[0]


def best_blend(specs: list[tuple[str, dict[str, Any]]], windows: list[Window]) -> tuple:
    """Best mean NDCG@10 of a min-max score blend over a 0.1 weight grid."""
    preps = []
    for w in windows:
        parts = [make_candidate(f, p, 42).fit(w.fit, w.items, w.users) for f, p in specs]
        preps.append((blend_candidates(parts, sorted(w.relevant), ["score"], 60, 200), w))
    grid = [g for g in itertools.product(np.arange(0, 1.01, 0.1), repeat=len(specs))
            if abs(sum(g) - 1) < 1e-6]  # fmt: skip
    scored = []
    for g in grid:
        per = [
            ranking_metrics(blend_lists(p, "score", g, 10), w.relevant, [10], w.n_items_all)[
                "ndcg_at_10"
            ]
            for p, w in preps
        ]
        scored.append((float(np.mean(per)), tuple(round(float(x), 1) for x in g), per))
    return max(scored, key=lambda s: s[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="base")
    parser.add_argument("--only", nargs="*", help="families to run (default: all)")
    args = parser.parse_args()
    CANDIDATES.update(IDEAS)
    windows = load_windows(args.env)
    for family, params in RUNS:
        if args.only and family not in args.only:
            continue
        out = evaluate_on_windows(family, params, windows, [10], 42, "ndcg_at_10")
        per = [w["ndcg_at_10"] for w in out["val_windows"]]
        print(f"{family:19s} mean {np.mean(per):.4f} per window {np.round(per, 4)} "
              f"{json.dumps(params)}", flush=True)  # fmt: skip
    if not args.only or "blend" in args.only:
        for specs in BLENDS:
            mean, weights, per = best_blend(specs, windows)
            names = " + ".join(f for f, _ in specs)
            print(f"blend {names}: mean {mean:.4f} {np.round(per, 4)} weights {weights}")


if __name__ == "__main__":
    main()
