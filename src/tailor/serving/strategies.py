"""The four recommendation strategies the bandit chooses among, as dense score vectors.

Each strategy returns one score per catalog item (``-inf`` = not a candidate) and a
reason per item it proposes; ``engine.py`` applies exclusions, boosts and the top-k.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tailor.serving.artefacts import Ranked, ServingData

NEG = np.float32(-np.inf)


@dataclass
class LiveProfile:
    """What the user did since the artefacts were built (from the profile store)."""

    viewed: list[int] = field(default_factory=list)  # catalog rows, newest first
    carted: list[int] = field(default_factory=list)
    purchased: set[int] = field(default_factory=set)
    unknown_items: int = 0

    @property
    def has_signal(self) -> bool:
        return bool(self.viewed or self.carted or self.purchased)


@dataclass
class Scored:
    scores: np.ndarray
    reasons: dict[int, str]  # explicit reasons; they win over the similarity layers
    default_reason: str
    # (seed row of each item or -1, template): "similar to <seed title>", formatted only for
    # the k items answered (formatting one per scored item cost more than the ranking)
    similar: list[tuple[np.ndarray, str]] = field(default_factory=list)
    # Rows in descending score order while ``scores`` are exactly that ranking (popularity,
    # before any boost): the top-k is then its first k rows not excluded, without a pass
    # over the catalog (an argpartition of tens of thousands of scores per request).
    ranked: np.ndarray | None = None

    def reason(self, j: int, titles: list[str]) -> str:
        if j in self.reasons:
            return self.reasons[j]
        for seed_of, template in reversed(self.similar):
            if seed_of[j] >= 0:
                return template.format(titles[seed_of[j]])
        return self.default_reason


def _empty(n: int) -> np.ndarray:
    return np.full(n, NEG, dtype=np.float32)


def _spread(ranked: Ranked, n: int) -> np.ndarray:
    """Scores rescaled to (0, 1] by rank, so strategies and boosts combine on one scale."""
    out = _empty(n)
    if len(ranked.idx):
        out[ranked.idx] = 1.0 - np.arange(len(ranked.idx), dtype=np.float32) / len(ranked.idx)
    return out


def similar_to(data: ServingData, seeds: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum of content similarity to ``seeds`` (row, weight), and the seed that
    contributes most to each item (-1: none), for its reason."""
    scores = np.zeros(data.n_items, dtype=np.float32)
    best = np.full(data.n_items, -1, dtype=np.int64)
    if not seeds:
        return scores, best
    rows = np.fromiter((r for r, _ in seeds), dtype=np.int64, count=len(seeds))
    weights = np.fromiter((w for _, w in seeds), dtype=np.float32, count=len(seeds))
    nb = data.nb_idx[rows]
    sim = data.nb_sim[rows] * weights[:, None]
    items, values = nb.ravel(), sim.ravel()
    np.add.at(scores, items, values)
    keep = values > 0
    items, values = items[keep], values[keep]
    seed = np.repeat(rows, nb.shape[1])[keep]
    order = np.lexsort((-values, items))  # by item, largest contribution first (stable)
    uniq, first = np.unique(items[order], return_index=True)
    best[uniq] = seed[order][first]
    return scores, best


def seeds_of(data: ServingData, user_id: str, live: LiveProfile) -> list[tuple[int, float]]:
    """Live views/carts weigh most (newest first, decaying); past purchases a little."""
    p = data.params
    seeds: dict[int, float] = {}
    for i, row in enumerate(live.carted[: p["live_seeds"]]):
        seeds[row] = seeds.get(row, 0.0) + p["cart_weight"] * p["recency_decay"] ** i
    for i, row in enumerate(live.viewed[: p["live_seeds"]]):
        seeds[row] = seeds.get(row, 0.0) + p["recency_decay"] ** i
    for row in data.bought.get(user_id, np.empty(0, np.int64))[: p["history_seeds"]].tolist():
        seeds[row] = seeds.get(row, 0.0) + p["history_weight"]
    return list(seeds.items())


def model(data: ServingData, user_id: str) -> Scored:
    """The served model's list: it mixes past items bought again (reason: how often) with
    new ones (reason: the past purchase they are most similar to, when there is one)."""
    cand = data.candidates.get(user_id)
    scores = _spread(cand, data.n_items) if cand is not None else _empty(data.n_items)
    reasons = {}
    every = data.repeat_every.get(user_id, {})
    for row in repeat_rows(data, user_id):
        days = every.get(row)
        reasons[row] = (
            f"bought again every ~{max(round(days), 1)} days" if days else "bought before"
        )
    seeds = [(r, 1.0) for r in data.bought.get(user_id, np.empty(0, np.int64))[:20].tolist()]
    similar = [similar_to(data, seeds)[1]] if seeds else []
    return Scored(
        scores,
        reasons,
        "ranked for you by the tuned model",
        [(s, "similar to {}") for s in similar],
    )


def repeat_rows(data: ServingData, user_id: str) -> set[int]:
    """Past purchases the served model proposes again (a mixed list's repeat part)."""
    cand = data.candidates.get(user_id)
    bought = data.bought.get(user_id)
    if cand is None or bought is None:
        return set()
    return set(np.intersect1d(cand.idx, bought).tolist())


def content(data: ServingData, user_id: str, live: LiveProfile) -> Scored:
    sim, seed_of = similar_to(data, seeds_of(data, user_id, live))
    scores = np.where(sim > 0, sim, NEG).astype(np.float32)
    return Scored(scores, {}, "similar to what you looked at", [(seed_of, "similar to {}")])


def popularity(data: ServingData, scopes: list[tuple[str, str]]) -> Scored:
    """The first scope that exists (segment, then country, then global)."""
    for scope in [*scopes, ("global", "")]:
        ranked = data.popularity.get(scope)
        if ranked is not None and len(ranked.idx):
            label = "overall" if scope[0] == "global" else f"{scope[0]} {scope[1]}"
            return Scored(_spread(ranked, data.n_items), {}, f"popular {label}", ranked=ranked.idx)
    return Scored(_empty(data.n_items), {}, "popular")


def due_items(data: ServingData, user_id: str) -> list[tuple[int, str]]:
    """Replenishment items due within the horizon (rows, reason), soonest first."""
    rep = data.replenishment.get(user_id)
    if rep is None:
        return []
    horizon = data.as_of + np.timedelta64(int(data.params["due_horizon_days"]), "D")
    due = rep[rep["due_date"] <= horizon]
    return [
        (int(r.row), f"you buy this about every {r.interval_days:.0f} days; due again")
        for r in due.itertuples(index=False)
    ]


def replenishment(data: ServingData, user_id: str) -> Scored:
    """Items due again first, then the tuned model's list."""
    base = model(data, user_id)
    scores = np.where(np.isfinite(base.scores), base.scores * 0.5, NEG).astype(np.float32)
    reasons: dict[int, str] = {}
    due = due_items(data, user_id)
    for rank, (row, why) in enumerate(due):
        scores[row] = 2.0 - rank / max(len(due), 1)
        reasons[row] = why
    return Scored(scores, reasons, base.default_reason)
