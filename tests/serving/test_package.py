"""Serving-pipeline helpers: content neighbours, popularity and the fallbacks for missing
optional artefacts."""

from __future__ import annotations

import pandas as pd

from tailor.pipelines.serving.nodes import popularity_table, user_table
from tailor.recommenders.content import nearest_items, text_vectors


def test_content_neighbours_rank_same_words_first() -> None:
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "text": ["red heart mug", "red heart cup", "blue garden chair", "garden chair"],
            "category": ["mug", "mug", "chair", "chair"],
        }
    )
    nb = nearest_items(text_vectors(items, items["item_id"].to_numpy(), max_features=100), n=2)
    assert nb["idx"][0][0] == 1 and nb["idx"][2][0] == 3
    assert (nb["sim"][:, 0] >= nb["sim"][:, 1]).all()
    assert all(i not in row for i, row in enumerate(nb["idx"].tolist()))


def test_user_table_falls_back_without_segments_and_honours_consent() -> None:
    features = pd.DataFrame({"user_id": ["1", "2"], "country": ["UK", "FR"]})
    users, source = user_table(features, None, None, "rule_segment")
    assert source.startswith("missing") and set(users["segment"]) == {"all"}
    assert users["consent"].all()
    segments = pd.DataFrame(
        {
            "user_id": ["1", "2"],
            "cluster_id": [0, 1],
            "cluster_label": ["x", "y"],
            "rule_segment": ["Loyal", "At Risk"],
        }
    )
    raw_users = pd.DataFrame({"user_id": ["2", "3"], "consent": [True, False]})
    users, source = user_table(features, segments, raw_users, "rule_segment")
    assert source == "customer_segments_serving.rule_segment"
    by_id = users.set_index("user_id")
    assert by_id.loc["1", "segment"] == "Loyal" and by_id.loc["2", "segment"] == "At Risk"
    assert not by_id.loc["3", "consent"] and by_id.loc["1", "consent"]


def test_popularity_scopes_rank_as_the_popularity_recommender() -> None:
    ts = pd.Timestamp("2024-01-10")
    inter = pd.DataFrame(
        {
            "user_id": ["1", "2", "2", "3", "4"],
            "item_id": ["a", "a", "b", "b", "c"],
            "order_id": ["o1", "o2", "o2", "o3", "o4"],
            "ts": [ts, ts, ts, ts, ts - pd.Timedelta(days=60)],  # c: sold before the window
        }
    )
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "description": ["x", "y", "z"]})
    users = pd.DataFrame(
        {
            "user_id": ["1", "2", "3", "4"],
            "country": ["UK", "UK", "FR", "FR"],
            "segment": ["s", "s", "t", "t"],
        }
    )
    pop = popularity_table(inter, items, users, days=30, seed=0)
    glob = pop[pop["scope"] == "global"].set_index("item_id")["score"]
    assert round(glob["a"]) == 2 and round(glob["b"]) == 2 and "c" not in glob.index

    def order(scope: str, key: str) -> list[str]:
        part = pop[(pop["scope"] == scope) & (pop["key"] == key)]
        return part.sort_values("score", ascending=False)["item_id"].tolist()

    assert order("country", "FR")[0] == "b" and order("segment", "s")[0] == "a"
    assert set(pop["scope"]) == {"global", "country", "segment"}
