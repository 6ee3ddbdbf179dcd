"""Prediction drift: what the served recommender outputs for reference vs current customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

PREDICTION_COLUMNS = ["top_score", "item_popularity"]


def prediction_frame(
    recommendations: pd.DataFrame, lines: pd.DataFrame, candidate: str, k: int
) -> pd.DataFrame:
    """Per customer active in ``lines``: the top score and the mean log-popularity of the
    top-``k`` recommended items, popularity counted as buyers within the same window.

    Rising popularity means the model pushes what is already popular there; falling means it
    recommends items this window no longer buys (e.g. last season's products).
    """
    served = recommendations[
        (recommendations["candidate"] == candidate) & (recommendations["rank"] <= k)
    ]
    served = served[served["user_id"].isin(lines["user_id"].unique())]
    buyers = lines.groupby("item_id")["user_id"].nunique()
    served = served.assign(
        item_popularity=np.log1p(served["item_id"].map(buyers).fillna(0).to_numpy(float))
    )
    per_user = served.groupby("user_id").agg(
        top_score=("score", "max"), item_popularity=("item_popularity", "mean")
    )
    return per_user.reset_index()
