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
    reasons: dict[int, str]
    default_reason: str


def _empty(n: int) -> np.ndarray:
    return np.full(n, NEG, dtype=np.float32)


def _spread(ranked: Ranked, n: int) -> np.ndarray:
    """Scores rescaled to (0, 1] by rank, so strategies and boosts combine on one scale."""
    out = _empty(n)
    if len(ranked.idx):
        out[ranked.idx] = 1.0 - np.arange(len(ranked.idx), dtype=np.float32) / len(ranked.idx)
    return out


def similar_to(
    data: ServingData, seeds: list[tuple[int, float]]
) -> tuple[np.ndarray, dict[int, int]]:
    """Weighted sum of content similarity to ``seeds`` (row, weight); also the top seed of each
    item, for its reason."""
    scores = np.zeros(data.n_items, dtype=np.float32)
    best: dict[int, tuple[float, int]] = {}
    for seed, weight in seeds:
        nb, sim = data.nb_idx[seed], data.nb_sim[seed] * weight
        np.add.at(scores, nb, sim)
        for j, s in zip(nb.tolist(), sim.tolist(), strict=True):
            if s > best.get(j, (0.0, -1))[0]:
                best[j] = (s, seed)
    return scores, {j: seed for j, (_, seed) in best.items()}


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
    cand = data.candidates.get(user_id)
    scores = _spread(cand, data.n_items) if cand is not None else _empty(data.n_items)
    return Scored(scores, {}, "ranked for you by the tuned model")


def content(data: ServingData, user_id: str, live: LiveProfile) -> Scored:
    sim, seed_of = similar_to(data, seeds_of(data, user_id, live))
    scores = np.where(sim > 0, sim, NEG).astype(np.float32)
    reasons = {j: f"similar to {data.titles[s]}" for j, s in seed_of.items()}
    return Scored(scores, reasons, "similar to what you looked at")


def popularity(data: ServingData, scopes: list[tuple[str, str]]) -> Scored:
    """The first scope that exists (segment, then country, then global)."""
    for scope in [*scopes, ("global", "")]:
        ranked = data.popularity.get(scope)
        if ranked is not None and len(ranked.idx):
            label = "overall" if scope[0] == "global" else f"{scope[0]} {scope[1]}"
            return Scored(_spread(ranked, data.n_items), {}, f"popular {label}")
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
