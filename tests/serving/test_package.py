"""Packaging helpers: content neighbours and the fallbacks for missing optional artefacts."""

from __future__ import annotations

import pandas as pd

from tailor.serving.package import content_neighbours, popularity, user_table


def test_content_neighbours_rank_same_words_first() -> None:
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "text": ["red heart mug", "red heart cup", "blue garden chair", "garden chair"],
            "category": ["mug", "mug", "chair", "chair"],
        }
    )
    nb = content_neighbours(items, n=2, max_features=100)
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


def test_popularity_scopes() -> None:
    ts = pd.Timestamp("2024-01-10")
    inter = pd.DataFrame(
        {
            "user_id": ["1", "2", "2", "3"],
            "item_id": ["a", "a", "b", "b"],
            "country": ["UK", "UK", "UK", "FR"],
            "ts": [ts] * 4,
        }
    )
    users = pd.DataFrame({"user_id": ["1", "2", "3"], "segment": ["s", "s", "t"]})
    pop = popularity(inter, users, days=30).set_index(["scope", "key", "item_id"])["score"]
    assert pop[("global", "", "a")] == 2 and pop[("country", "FR", "b")] == 1
    assert pop[("segment", "s", "a")] == 2 and ("segment", "t", "a") not in pop.index
