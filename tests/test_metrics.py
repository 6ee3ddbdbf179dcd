"""Ranking metrics against values computed by hand (log2(3) = 1.5849625, log2(4) = 2)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tailor.metrics import (
    ItemSimilarity,
    basket_sets,
    bought_sets,
    coverage,
    lists_from_frame,
    next_basket_metrics,
    novelty_at_k,
    per_user_beyond_accuracy,
    per_user_next_basket_metrics,
    per_user_ranking_metrics,
    ranking_metrics,
    relevant_sets,
    self_information,
    user_metrics_at_k,
)

L3 = math.log2(3)


def test_single_user_hand_computed_at_3() -> None:
    # hits at ranks 1 and 3 of [a, x, b]; relevant {a, b, c}
    m = user_metrics_at_k(["a", "x", "b", "c"], {"a", "b", "c"}, 3)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    # AP@3 = (1/1 + 2/3) / min(3, 3)
    assert m["map"] == pytest.approx((1 + 2 / 3) / 3)
    # DCG = 1 + 1/log2(4); IDCG = 1 + 1/log2(3) + 1/log2(4)
    assert m["ndcg"] == pytest.approx((1 + 0.5) / (1 + 1 / L3 + 0.5))
    assert m["hit_rate"] == 1.0


def test_ideal_dcg_and_map_use_min_relevant_k() -> None:
    # one relevant item at rank 2, K = 5: IDCG has one term, MAP divides by 1
    m = user_metrics_at_k(["x", "a", "y", "z", "w"], {"a"}, 5)
    assert m["ndcg"] == pytest.approx(1 / L3)
    assert m["map"] == pytest.approx(1 / 2)
    assert m["recall"] == 1.0
    assert m["precision"] == pytest.approx(1 / 5)
    # more relevant items than K: a perfect list of length K scores 1
    perfect = user_metrics_at_k(["a", "b"], {"a", "b", "c", "d"}, 2)
    assert perfect["ndcg"] == pytest.approx(1.0)
    assert perfect["map"] == pytest.approx(1.0)
    assert perfect["recall"] == pytest.approx(0.5)


def test_fewer_than_k_candidates_precision_divides_by_k() -> None:
    m = user_metrics_at_k(["a"], {"a", "b"}, 10)
    assert m["precision"] == pytest.approx(0.1)
    assert m["recall"] == pytest.approx(0.5)
    assert m["ndcg"] == pytest.approx(1 / (1 + 1 / L3))
    assert m["map"] == pytest.approx(1 / 2)
    empty = user_metrics_at_k([], {"a"}, 5)
    assert empty == {"precision": 0.0, "recall": 0.0, "map": 0.0, "ndcg": 0.0, "hit_rate": 0.0}


def test_duplicates_do_not_count_twice_or_take_a_slot() -> None:
    # [a, a, b] is [a, b]: at K=2 both hits, not one hit and a wasted slot
    m = user_metrics_at_k(["a", "a", "b"], {"a", "b"}, 2)
    assert m["precision"] == 1.0
    assert m["recall"] == 1.0
    assert m["ndcg"] == pytest.approx(1.0)


def test_user_without_relevant_items_is_rejected_and_not_averaged() -> None:
    with pytest.raises(ValueError):
        user_metrics_at_k(["a"], set(), 1)
    out = ranking_metrics({"u1": ["a"], "u2": ["a"]}, {"u1": {"a"}, "u2": set()}, [1], 10)
    assert out["n_users"] == 1
    assert out["precision_at_1"] == 1.0


def test_aggregate_means_coverage_and_missing_lists() -> None:
    recommended = {"u1": ["a", "b"], "u2": ["c", "a"], "u4": ["z"]}
    relevant = {"u1": {"b"}, "u2": {"c", "d"}, "u3": {"a"}}  # u3 got no list: zeros
    out = ranking_metrics(recommended, relevant, [1, 2], n_items=10)
    assert out["n_users"] == 3
    # @1: u1 miss, u2 hit, u3 nothing
    assert out["precision_at_1"] == pytest.approx(1 / 3)
    assert out["recall_at_1"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert out["hit_rate_at_1"] == pytest.approx(1 / 3)
    # @2: u1 hit at 2 -> ndcg 1/log2(3); u2 hit at 1 of 2 relevant -> 1/(1+1/log2 3)
    assert out["ndcg_at_2"] == pytest.approx((1 / L3 + 1 / (1 + 1 / L3) + 0) / 3)
    assert out["map_at_2"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert out["precision_at_2"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    # coverage over evaluated users' lists only (u4 is not evaluated): {a, c} then {a, b, c}
    assert out["coverage_at_1"] == pytest.approx(2 / 10)
    assert out["coverage_at_2"] == pytest.approx(3 / 10)
    assert set(out) == {"n_users"} | {
        f"{m}_at_{k}"
        for k in (1, 2)
        for m in ("precision", "recall", "map", "ndcg", "hit_rate", "coverage")
    }


def test_per_user_rows_average_to_the_aggregate() -> None:
    rng = np.random.default_rng(0)
    items = [f"i{j}" for j in range(30)]
    recommended = {f"u{u}": list(rng.choice(items, 10, replace=False)) for u in range(40)}
    relevant = {
        f"u{u}": set(rng.choice(items, rng.integers(0, 6), replace=False)) for u in range(40)
    }
    per_user = per_user_ranking_metrics(recommended, relevant, [5, 10])
    out = ranking_metrics(recommended, relevant, [5, 10], n_items=30)
    assert len(per_user) == out["n_users"] == sum(bool(v) for v in relevant.values())
    for col in per_user.columns:
        assert per_user[col].mean() == pytest.approx(out[col])
    assert (per_user["recall_at_10"] >= per_user["recall_at_5"]).all()
    assert per_user.to_numpy().max() <= 1.0


def test_coverage_validates_catalog_size() -> None:
    assert coverage({"u": ["a", "b", "b"]}, 3, 4) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        coverage({"u": ["a"]}, 1, 0)


def test_ties_in_rank_break_by_item_id_and_frames_round_trip() -> None:
    recs = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "v"],
            "rank": [2, 1, 1, 1],
            "item_id": ["c", "b", "a", "a"],
            "score": [0.1, 0.5, 0.5, 0.9],
        }
    )
    assert lists_from_frame(recs) == {"u": ["a", "b", "c"], "v": ["a"]}
    train = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
    test = pd.DataFrame({"user_id": ["u", "u", "v", "w"], "item_id": ["a", "c", "b", "b"]})
    assert relevant_sets(test, train) == {"u": {"c"}, "v": {"b"}, "w": {"b"}}
    assert relevant_sets(test, train, users=["v"]) == {"v": {"b"}}


def test_novelty_self_information() -> None:
    info = self_information({"pop": 9, "rare": 0}, n_users=9)
    assert info["pop"] == pytest.approx(0.0)
    assert info["rare"] == pytest.approx(math.log2(10))
    assert novelty_at_k(["pop", "rare", "new"], info, 2, default=5.0) == pytest.approx(
        math.log2(10) / 2
    )
    assert novelty_at_k(["new"], info, 2, default=5.0) == 5.0
    assert math.isnan(novelty_at_k([], info, 2, default=5.0))


def test_intra_list_diversity_from_text() -> None:
    sim = ItemSimilarity.from_text(
        ["a", "b", "c"], ["red heart candle", "red heart candle", "garden spade"]
    )
    assert sim.intra_list_diversity(["a", "b"]) == pytest.approx(0.0, abs=1e-12)
    assert sim.intra_list_diversity(["a", "c"]) == pytest.approx(1.0)
    # pairs (a,b)=1, (a,c)=0, (b,c)=0 -> mean similarity 1/3
    assert sim.intra_list_diversity(["a", "b", "c"]) == pytest.approx(2 / 3)
    assert math.isnan(sim.intra_list_diversity(["a", "unknown"]))
    # explicit vectors: cos(45 degrees)
    sim2 = ItemSimilarity(["x", "y"], np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert sim2.intra_list_diversity(["x", "y"]) == pytest.approx(1 - math.sqrt(0.5))

    frame = per_user_beyond_accuracy(
        {"u": ["a", "c"], "v": ["a"]}, ["u", "v"], [2], {"a": 1.0, "c": 3.0}, sim
    )
    assert frame.loc["u", "novelty_at_2"] == pytest.approx(2.0)
    assert frame.loc["u", "diversity_at_2"] == pytest.approx(1.0)
    assert math.isnan(frame.loc["v", "diversity_at_2"])


def test_diversity_at_several_k_skips_unknown_items() -> None:
    sim = ItemSimilarity(["a", "b", "c"], np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    # 'zz' has no vector: the top 2 holds one known item (NaN), the top 3 two (a, b: identical)
    got = sim.diversity_at_ks(["a", "zz", "b", "c"], [1, 2, 3, 4])
    assert math.isnan(got[0]) and math.isnan(got[1])
    assert got[2] == pytest.approx(0.0)
    # a, b, c: pairs (a,b)=1, (a,c)=0, (b,c)=0
    assert got[3] == pytest.approx(2 / 3)
    assert sim.diversity_at_ks([], [5]) == [pytest.approx(float("nan"), nan_ok=True)]


def test_next_basket_metrics_by_hand() -> None:
    """u bought a, x before; basket {a, b, c} (a repeats); list x, b, a, d. v has no list."""
    recs = {"u": ["x", "b", "b", "a", "d"]}  # the duplicate b neither scores nor hides a
    basket = {"u": {"a", "b", "c"}, "v": {"y"}, "w": set()}
    before = {"u": {"a", "x"}}
    got = per_user_next_basket_metrics(recs, basket, before, [2, 4])
    assert list(got.index) == ["u", "v"]  # w has an empty basket: not evaluated
    u, v = got.loc["u"], got.loc["v"]
    d2, d3 = 1 / math.log2(3), 1 / math.log2(4)
    # @2: only b (explore) at rank 2; ideal DCG over min(3, 2) = 2 slots
    assert u["recall_at_2"] == pytest.approx(1 / 3)
    assert u["ndcg_at_2"] == pytest.approx(d2 / (1 + d2))
    assert u["ndcg_repeat_at_2"] == 0.0
    assert u["ndcg_explore_at_2"] == pytest.approx(d2 / (1 + d2))
    assert (u["hit_rate_repeat_at_2"], u["hit_rate_explore_at_2"]) == (0.0, 1.0)
    assert u["repeat_share_list_at_2"] == 0.5  # x
    # @4: b at rank 2 (explore), a at rank 3 (repeat); ideal DCG over 3 slots
    ideal = 1 + d2 + d3
    assert u["recall_at_4"] == pytest.approx(2 / 3)
    assert u["recall_repeat_at_4"] == pytest.approx(1 / 3)
    assert u["recall_explore_at_4"] == pytest.approx(1 / 3)
    assert u["ndcg_at_4"] == pytest.approx((d2 + d3) / ideal)
    assert u["ndcg_repeat_at_4"] == pytest.approx(d3 / ideal)
    assert u["ndcg_explore_at_4"] == pytest.approx(d2 / ideal)
    assert (u["hit_rate_at_4"], u["hit_rate_repeat_at_4"]) == (1.0, 1.0)
    assert u["repeat_share_list_at_4"] == 0.5  # x, a
    assert u["repeat_share_truth"] == pytest.approx(1 / 3)
    # a user in the population without a list counts with zeros
    assert v["ndcg_at_4"] == 0.0 and v["recall_at_4"] == 0.0 and v["repeat_share_truth"] == 0.0
    means = next_basket_metrics(recs, basket, before, [4])
    assert means["n_users"] == 2.0
    assert means["ndcg_at_4"] == pytest.approx((d2 + d3) / ideal / 2)


def test_basket_sets_keep_repeats() -> None:
    train = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
    test = pd.DataFrame({"user_id": ["u", "u", "z"], "item_id": ["a", "b", "c"]})
    assert basket_sets(test, users=bought_sets(train)) == {"u": {"a", "b"}}
    assert bought_sets(train) == {"u": {"a"}}
