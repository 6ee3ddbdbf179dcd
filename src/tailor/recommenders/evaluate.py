"""Scoring a fitted candidate on a hold-out with the project's metrics (``tailor.metrics``)."""

from __future__ import annotations

import pandas as pd

from tailor.metrics import (
    basket_sets,
    bought_sets,
    lists_from_frame,
    next_basket_metrics,
    ranking_metrics,
    relevant_sets,
)
from tailor.recommenders.base import Recommender


def holdout_truth(train: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, set[str]]:
    """Items each train user bought in the hold-out and not before (DESIGN.md protocol)."""
    train = train.astype({"user_id": str, "item_id": str})
    holdout = holdout.astype({"user_id": str, "item_id": str})
    return relevant_sets(holdout, train, users=train["user_id"].unique())


def score_model(
    model: Recommender, relevant: dict[str, set[str]], ks: list[int], n_items: int
) -> tuple[dict[str, float], pd.DataFrame]:
    """(metrics, top-max(ks) recommendations) for the users in ``relevant``."""
    recs = model.recommend(sorted(relevant), max(ks))
    return ranking_metrics(lists_from_frame(recs), relevant, ks, n_items), recs


def next_basket_truth(
    train: pd.DataFrame, holdout: pd.DataFrame
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(basket, bought): every item each train user bought in the hold-out, repeats
    included, and what each bought before it (the next-basket protocol)."""
    train = train.astype({"user_id": str, "item_id": str})
    holdout = holdout.astype({"user_id": str, "item_id": str})
    bought = bought_sets(train)
    return basket_sets(holdout, users=bought), bought


def score_next_basket(
    model: Recommender,
    basket: dict[str, set[str]],
    bought: dict[str, set[str]],
    ks: list[int],
) -> tuple[dict[str, float], pd.DataFrame]:
    """(next-basket metrics, top-max(ks) lists with past items allowed) for the users
    in ``basket``."""
    recs = model.recommend(sorted(basket), max(ks), exclude=False)
    return next_basket_metrics(lists_from_frame(recs), basket, bought, ks), recs


def discovery_lists(model: Recommender, user_ids: list[str], k: int) -> pd.DataFrame:
    """Top ``k`` as the discovery protocol scores a model: a mixed list's explore part
    (the mixed list with its past items removed and closed up: ``mixed.py`` keeps the
    explore order), any other model's own list."""
    explore = getattr(model, "explore", None)
    if isinstance(explore, Recommender):
        return explore.recommend(user_ids, k)
    return model.recommend(user_ids, k)
