"""Scoring a fitted candidate on a hold-out with the project's metrics (``tailor.metrics``)."""

from __future__ import annotations

import pandas as pd

from tailor.metrics import lists_from_frame, ranking_metrics, relevant_sets
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
