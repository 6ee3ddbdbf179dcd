"""The hold-out protocol: what is excluded, who is evaluated, what the proxies mean."""

from __future__ import annotations

import pandas as pd
import pytest

from tailor.evaluation.protocol import (
    conversion_per_user,
    drop_train_items,
    holdout_truth,
    per_user_table,
    truth_sets,
)
from tailor.metrics import ranking_metrics


def _recs(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["candidate", "user_id", "rank", "item_id"]).assign(score=1.0)


def test_train_items_leave_the_lists_and_ranks_close_up() -> None:
    train = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
    recs = _recs([("c", "u", 1, "a"), ("c", "u", 2, "b"), ("c", "u", 3, "b"), ("c", "u", 4, "d")])
    out = drop_train_items(recs, train, max_k=5)
    assert out[["item_id", "rank"]].values.tolist() == [["b", 1], ["d", 2]]
    assert len(drop_train_items(recs, train, max_k=1)) == 1
    clash = _recs([("c", "u", 1, "b"), ("c", "u", 1, "d")])
    with pytest.raises(ValueError, match="share a candidate name"):
        drop_train_items(clash, train, 5)
    with pytest.raises(ValueError, match="lack columns"):
        drop_train_items(recs.drop(columns="score"), train, 5)


def test_truth_excludes_train_items_and_flags_the_window() -> None:
    ts = pd.Timestamp("2023-10-01")
    train = pd.DataFrame({"user_id": ["u", "v", "w"], "item_id": ["a", "a", "z"]})
    test = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "v", "w", "n"],
            "item_id": ["a", "b", "b", "a", "c", "c"],
            "ts": [ts + pd.Timedelta(days=d) for d in (1, 40, 3, 2, 50, 5)],
        }
    )
    truth, counts = holdout_truth(train, test, "2023-10-01", window_days=30)
    # v only re-bought a train item; n is new in test: neither is evaluated by default.
    # u's b was first bought on day 3 (in the window), w's c on day 50 (after it)
    assert truth[["user_id", "item_id", "in_window"]].values.tolist() == [
        ["u", "b", True],
        ["w", "c", False],
    ]
    assert truth_sets(truth, window_only=True) == {"u": {"b"}}
    assert counts == {
        "test_buyers": 4,
        "evaluated": 2,
        "new_in_test": 1,
        "new_excluded": 1,
        "only_rebought": 1,
    }
    everyone, counts_all = holdout_truth(train, test, "2023-10-01", 30, "all_test_users")
    assert set(everyone["user_id"]) == {"u", "w", "n"}
    assert counts_all["evaluated"] == 3 and counts_all["new_excluded"] == 0
    with pytest.raises(ValueError, match="population"):
        holdout_truth(train, test, "2023-10-01", 30, "everyone")


def test_conversion_proxy_counts_in_window_hits_only() -> None:
    conv = conversion_per_user({"u": ["x", "b"], "w": ["c"]}, ["u", "w"], {"u": {"b"}}, [1, 2])
    assert conv.loc["u"].tolist() == [0.0, 1.0]
    assert conv.loc["w"].tolist() == [0.0, 0.0]  # w bought c, but after the window


def test_per_user_table_agrees_with_ranking_metrics(world, eval_params) -> None:
    recs = drop_train_items(world["recs"], world["train"], 20)
    truth, _ = holdout_truth(world["train"], world["test"], "2023-10-01", 30)
    table = per_user_table(recs, truth, world["train"], world["catalog"], [5, 10])
    assert set(table["candidate"]) == {"oracle", "popular", "served"}
    relevant = truth_sets(truth)
    # u59 re-bought a train item only: nobody evaluates them
    assert "u59" not in set(table["user_id"]) and "u59" not in relevant
    for cand, rows in table.groupby("candidate"):
        lists = {
            u: g.sort_values("rank")["item_id"].tolist()
            for u, g in recs[recs.candidate == cand].groupby("user_id")
        }
        expected = ranking_metrics(lists, relevant, [5, 10], n_items=40)
        assert len(rows) == expected["n_users"] == 59
        for key in ("ndcg_at_10", "recall_at_5", "map_at_10", "precision_at_10"):
            assert rows[key].mean() == pytest.approx(expected[key])
    oracle = table[table.candidate == "oracle"]
    assert oracle["ndcg_at_10"].min() == pytest.approx(1.0)
    assert oracle["conversion_at_10"].mean() == pytest.approx(
        truth[truth.in_window].user_id.nunique() / 59
    )
    assert table["novelty_at_10"].notna().all() and table["diversity_at_10"].between(0, 1).all()
