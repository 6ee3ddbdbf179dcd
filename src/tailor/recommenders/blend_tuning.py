"""Blend tuning without users x items score matrices: per user, the union of each
component's top ``n`` items with their exact normalised scores.

A trial (method, weight) only recombines these small arrays. An item outside every
component's top ``n`` would need a blended score above items that lead one component;
with ``n`` far above K that does not happen in practice, and the served blend
(``BlendRecommender``) ranks the full catalog anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailor.recommenders.base import MAX_CELLS, Recommender
from tailor.recommenders.blend import normalise


@dataclass
class BlendCandidates:
    users: list[str]
    item_ids: np.ndarray
    cols: np.ndarray  # users x width, item columns in catalog order (-1: padding)
    values: dict[str, np.ndarray]  # method -> components x users x width normalised scores


def blend_candidates(
    components: Sequence[Recommender],
    users: list[str],
    methods: Sequence[str],
    rrf_k: float,
    n: int,
) -> BlendCandidates:
    """Each user's candidate items (union of the components' top ``n``, bought items
    excluded) and every component's normalised score on them, for every method."""
    n_items = components[0].n_items
    n = min(int(n), n_items)
    width = n * len(components)
    cols = np.full((len(users), width), -1, dtype=np.int64)
    values = {m: np.full((len(components), len(users), width), -np.inf) for m in methods}
    chunk = max(1, MAX_CELLS // max(n_items * len(components), 1))
    for start in range(0, len(users), chunk):
        batch = users[start : start + chunk]
        scored = [c.score(batch) for c in components]
        bought = scored[0][1]
        norm = {m: [normalise(s, m, rrf_k) for s, _ in scored] for m in methods}
        cand = []
        for s, _ in scored:
            s = s.copy()
            s[bought.nonzero()] = -np.inf
            if n < n_items:
                cand.append(np.argpartition(-s, n - 1, axis=1)[:, :n])
            else:
                cand.append(np.tile(np.arange(n_items), (len(batch), 1)))
        union = np.sort(np.hstack(cand), axis=1)
        dup = np.zeros_like(union, dtype=bool)
        dup[:, 1:] = union[:, 1:] == union[:, :-1]
        rows = np.arange(len(batch))[:, None]
        # duplicates (an item in several components' top n) and bought items: padding
        valid = ~dup & (bought.toarray()[rows, union] == 0)
        sl = slice(start, start + len(batch))
        cols[sl] = np.where(valid, union, -1)
        for m in methods:
            for i, part in enumerate(norm[m]):
                values[m][i, sl] = np.where(valid, part[rows, union], -np.inf)
    return BlendCandidates(users, components[0].item_ids, cols, values)


def blend_lists(
    prep: BlendCandidates, method: str, weights: Sequence[float], k: int
) -> dict[str, list[str]]:
    """Top-``k`` items per user of the weighted blend (ties in catalog order)."""
    parts = prep.values[method]
    score = np.zeros(parts.shape[1:])
    for w, part in zip(weights, parts, strict=True):
        score = score + float(w) * np.where(np.isfinite(part), part, 0.0)
    score[prep.cols < 0] = -np.inf
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    top_cols = np.take_along_axis(prep.cols, order, axis=1)
    top_ok = np.take_along_axis(score, order, axis=1) > -np.inf
    return {u: list(prep.item_ids[top_cols[r][top_ok[r]]]) for r, u in enumerate(prep.users)}
