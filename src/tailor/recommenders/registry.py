"""Candidate families by name (the keys of ``parameters_recommender.yml``)."""

from __future__ import annotations

from typing import Any

from tailor.recommenders.als import AlsRecommender
from tailor.recommenders.base import Recommender
from tailor.recommenders.content import ContentRecommender
from tailor.recommenders.due_again import DueAgainRecommender
from tailor.recommenders.ease import EaseRecommender
from tailor.recommenders.item_knn import ItemKnnRecommender
from tailor.recommenders.lightfm_hybrid import LightFmRecommender
from tailor.recommenders.popularity import PopularityRecommender
from tailor.recommenders.ptopfreq import PTopFreqRecommender
from tailor.recommenders.repeat_ranker import RepeatRankerRecommender
from tailor.recommenders.tifu_knn import TifuKnnRecommender

CANDIDATES: dict[str, type[Recommender]] = {
    "popularity": PopularityRecommender,
    "ease": EaseRecommender,
    "als": AlsRecommender,
    "item_knn": ItemKnnRecommender,
    "content": ContentRecommender,
    "lightfm": LightFmRecommender,
    # repeat-aware (next-basket protocol)
    "ptopfreq": PTopFreqRecommender,
    "tifu_knn": TifuKnnRecommender,
    "due_again": DueAgainRecommender,
    "repeat_ranker": RepeatRankerRecommender,
}


def split_prior(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model params, trend-prior params): keys ``prior_*`` configure the prior."""
    model = {k: v for k, v in params.items() if not k.startswith("prior_")}
    prior = {k.removeprefix("prior_"): v for k, v in params.items() if k.startswith("prior_")}
    return model, prior


def make_candidate(family: str, params: dict[str, Any], seed: int) -> Recommender:
    """An unfitted candidate of ``family``; keys ``prior_*`` become the trend prior."""
    model, prior = split_prior(params)
    return CANDIDATES[family](seed=seed, prior=prior or None, **model)
