"""The recommend contract for every candidate: k items, none bought, deterministic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.recommenders import CANDIDATES, make_candidate
from tailor.recommenders.base import Recommender
from tailor.recommenders.blend import BlendRecommender

SMALL: dict[str, dict[str, Any]] = {
    "popularity": {"scope": "country"},
    "ease": {"lam": 10.0, "min_item_buyers": 1, "prior_trend_exponent": 0.3},
    "als": {"factors": 8, "iterations": 5, "regularization": 1.0},
    "item_knn": {"neighbours": 10},
    "content": {"max_features": 100},
    "lightfm": {"components": 8, "epochs": 3},
    "ptopfreq": {"half_life_days": 60},
    "tifu_knn": {"neighbours": 5},
    "due_again": {},
    "repeat_ranker": {"label_days": 30},
}


def build(name: str, seed: int = 1) -> Recommender:
    if name == "blend":
        return BlendRecommender(
            [
                make_candidate("ease", SMALL["ease"], seed),
                make_candidate("als", SMALL["als"], seed),
            ],
            [0.6, 0.4],
            method="rrf",
        )
    return make_candidate(name, SMALL[name], seed)


NAMES = [*CANDIDATES, "blend"]


@pytest.mark.parametrize("name", NAMES)
def test_recommend_contract(name: str, tiny: dict[str, pd.DataFrame]) -> None:
    inter = tiny["interactions"]
    model = build(name).fit(inter, tiny["items"], tiny["users"])
    users = sorted(inter["user_id"].unique())
    k = 5
    recs = model.recommend(users, k)
    assert list(recs.columns) == ["user_id", "rank", "item_id", "score"]
    counts = recs.groupby("user_id").size()
    assert set(counts.index) == set(users) and (counts == k).all()
    ranks = recs.groupby("user_id")["rank"].apply(list)
    assert ranks.map(lambda r: r == list(range(1, k + 1))).all()
    bought = set(zip(inter["user_id"], inter["item_id"], strict=True))
    assert not any((u, i) in bought for u, i in zip(recs["user_id"], recs["item_id"], strict=True))
    assert recs.groupby("user_id")["item_id"].nunique().eq(k).all()
    # Same seed, same data: the same lists and scores.
    again = build(name).fit(inter, tiny["items"], tiny["users"]).recommend(users, k)
    pd.testing.assert_frame_equal(recs, again)
    # exclude=False may return bought items (the mask is what removed them).
    assert len(model.recommend(users[:3], k, exclude=False)) == 3 * k


@pytest.mark.parametrize("name", ["ease", "item_knn", "als", "lightfm", "content"])
def test_learns_planted_groups(name: str, tiny: dict[str, pd.DataFrame]) -> None:
    """Most recommendations come from the user's own item group (half the catalog)."""
    inter = tiny["interactions"]
    model = build(name).fit(inter, tiny["items"], tiny["users"])
    users = sorted(inter["user_id"].unique())
    recs = model.recommend(users, 3)
    group = recs["user_id"].str[1:].astype(int) % 2
    item_group = (recs["item_id"].str[1:].astype(int) >= 20).astype(int)
    assert (group == item_group).mean() > 0.75


@pytest.mark.parametrize("name", NAMES)
def test_cold_start(name: str, tiny: dict[str, pd.DataFrame]) -> None:
    inter = tiny["interactions"]
    model = build(name).fit(inter, tiny["items"], tiny["users"])
    recent = [[], ["i025", "i026", "nope"], ["unknown-item"]]
    recs = model.recommend(["new-a", "new-b", "new-c"], 4, recent=recent)
    assert recs.groupby("user_id").size().to_dict() == {"new-a": 4, "new-b": 4, "new-c": 4}
    got_b = recs[recs["user_id"] == "new-b"]["item_id"].tolist()
    assert not {"i025", "i026"} & set(got_b)
    assert np.isfinite(recs["score"]).all()
    # A known user's live items are excluded too.
    known = sorted(inter["user_id"].unique())[0]
    live = model.recommend([known], 5, recent=[["i039"]])
    assert "i039" not in set(live["item_id"])


@pytest.mark.parametrize("name", ["ease", "item_knn", "lightfm"])
def test_cold_start_follows_recent_items(name: str, tiny: dict[str, pd.DataFrame]) -> None:
    """A new visitor who looked at mugs gets mugs."""
    model = build(name).fit(tiny["interactions"], tiny["items"], tiny["users"])
    recs = model.recommend(["visitor"], 5, recent=[["i021", "i022", "i023"]])
    assert (recs["item_id"].str[1:].astype(int) >= 20).mean() >= 0.8
