"""Prediction drift: what the served recommender outputs for reference vs current customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

PREDICTION_COLUMNS = ["top_score", "item_popularity"]


def prediction_frame(
    recommendations: pd.DataFrame, lines: pd.DataFrame, candidate: str, k: int
) -> pd.DataFrame:
    """Per customer active in ``lines``: the top score and the mean log-popularity of the
    top-``k`` recommended items, popularity as the item's share of the window's purchase
    lines: a share of purchases (not a count, nor a share of buyers, which both grow with
    the window's length) so a longer or busier window is not drift by itself.

    Rising popularity means the model pushes what is already popular there; falling means it
    recommends items this window no longer buys (e.g. last season's products).
    """
    served = recommendations[
        (recommendations["candidate"] == candidate) & (recommendations["rank"] <= k)
    ]
    served = served[served["user_id"].isin(lines["user_id"].unique())]
    share = lines["item_id"].value_counts() / max(len(lines), 1)
    served = served.assign(  # log of the share in basis points: 0 for unsold items
        item_popularity=np.log1p(1e4 * served["item_id"].map(share).fillna(0).to_numpy(float))
    )
    per_user = served.groupby("user_id").agg(
        top_score=("score", "max"), item_popularity=("item_popularity", "mean")
    )
    return per_user.reset_index()
