"""The shared scoring plumbing: user x item matrices from order lines, the per-frame cache
they are grouped through, rank fusion and the mending of non-finite scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.recommenders.blend import normalise
from tailor.recommenders.frame_memo import per_frame
from tailor.recommenders.matrix import line_codes, user_item_matrix
from tailor.recommenders.popularity import PopularityRecommender
from tailor.recommenders.priors import buyers_between, repeat_share
from tailor.recommenders.repeat_history import decayed_counts

AS_OF = pd.Timestamp("2024-03-31")


def lines() -> pd.DataFrame:
    rows = [
        # u bought a in two orders (one of them holds a on two lines), last 10 days ago
        ("u", "a", "o1", "2024-03-01"),
        ("u", "a", "o1", "2024-03-01"),
        ("u", "a", "o2", "2024-03-21"),
        ("u", "b", "o2", "2024-03-21"),
        ("stranger", "a", "o4", "2024-03-31"),  # a user outside the index
        ("v", "b", "o3", "2024-03-31"),
        ("v", "gone", "o3", "2024-03-31"),  # an item outside the index
        ("v", None, "o3", "2024-03-31"),  # a line without an item
        ("stranger", "c", "o4", "2024-03-31"),
        (None, "b", "o5", "2024-03-31"),  # a line without a customer
    ]
    # the last user first seen (v) and the last item (c) are in the indexes, so a missing
    # id read as position -1 would credit them
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    return df.assign(ts=pd.to_datetime(df["ts"]))


def test_user_item_matrix_counts_distinct_orders_per_pair_with_decay() -> None:
    users, items = {"u": 0, "v": 1}, {"a": 0, "b": 1, "c": 2}
    frame = lines()
    counts = user_item_matrix(frame, users, items, weighting="count").toarray()
    assert counts.tolist() == [[2.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    # half-life 10 days from the end of the data: u's a was last bought 10 days before it
    decayed = user_item_matrix(
        frame, users, items, weighting="count", half_life_days=10, as_of=AS_OF
    ).toarray()
    assert decayed == pytest.approx(np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0]]))
    binary = user_item_matrix(frame, users, items).toarray()
    assert binary.tolist() == [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    # another fit's index over the same frame (its pairs are grouped once) maps its own way
    other = user_item_matrix(frame, {"v": 0, "stranger": 1}, {"b": 0, "a": 1}, "count")
    assert other.toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_item_statistics_from_the_lines_codes() -> None:
    items = {"a": 0, "b": 1, "c": 2}
    frame = lines()
    # the start is not in the window (u's order of 03-21), the end is (03-31)
    late = buyers_between(frame, items, pd.Timestamp("2024-03-21"), AS_OF)
    assert late.tolist() == [1.0, 1.0, 1.0]  # a and c: the stranger; b: v
    early = buyers_between(frame, items, pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-21"))
    assert early.tolist() == [1.0, 1.0, 0.0]  # u's two orders of a are one buyer
    # an index in another order, without b: each count lands on its own item
    other = buyers_between(frame, {"c": 0, "a": 1}, pd.Timestamp("2024-02-01"), AS_OF)
    assert other.tolist() == [1.0, 2.0]
    # (re-buyers + 1) / (buyers + 2): a is bought again by u only, b and c by nobody;
    # d, never bought, is neutral
    shares = repeat_share(frame, {**items, "d": 3}, 2.0)
    assert shares == pytest.approx([0.5, 0.25, 1 / 3, 0.5])
    # u's a: orders 30 and 10 days old at half-life 10 (o1's two lines are one order)
    decayed = decayed_counts(frame, {"u": 0, "v": 1}, items, AS_OF, 10.0).toarray()
    assert decayed == pytest.approx(np.array([[0.625, 0.5, 0.0], [0.0, 1.0, 0.0]]))
    # lines without a customer or an item, or outside the indexes, have no position
    rows, cols, keep = line_codes(frame).in_index({"u": 0, "v": 1}, items)
    assert keep.tolist() == [True] * 4 + [False, True] + [False] * 4
    assert rows.tolist() == [0, 0, 0, 0, 1] and cols.tolist() == [0, 0, 0, 1, 1]


def test_per_frame_computes_once_per_frame_and_never_answers_for_a_dead_one() -> None:
    calls: list[int] = []

    @per_frame
    def rows(frame: pd.DataFrame) -> int:
        calls.append(1)
        return len(frame)

    frame = lines()
    assert rows(frame) == rows(frame) == len(frame) and len(calls) == 1
    for n in range(1, 30):
        # frames built and dropped in turn reuse each other's ids
        other = pd.DataFrame({"x": range(n)})
        assert rows(other) == n
        del other
    matrix = user_item_matrix(frame, {"u": 0}, {"a": 0}, "count")
    for n in range(20):
        shorter = frame.iloc[: 3 - n % 2].copy()  # u's a in 2 orders, then in 1
        expect = 2.0 if n % 2 == 0 else 1.0
        assert user_item_matrix(shorter, {"u": 0}, {"a": 0}, "count")[0, 0] == expect
        del shorter
    assert matrix[0, 0] == 2.0


def test_rank_fusion_scores_each_item_by_its_rank_with_ties_in_column_order() -> None:
    scores = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 0.0, 5.0, -1.0]])
    ranks = np.array([[0, 3, 1, 2], [1, 2, 0, 3]])
    assert normalise(scores, "rrf", 60.0) == pytest.approx(1.0 / (60.0 + ranks + 1.0))


class _Fixed(PopularityRecommender):
    """Popularity's fit with scores set by the test."""

    fixed: np.ndarray

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.fixed, (len(rows), 1))


def test_recommend_ranks_nan_last_and_infinite_scores_at_their_ends() -> None:
    model = _Fixed().fit(lines().dropna(), pd.DataFrame({"item_id": ["a", "b", "c", "d"]}))
    order = list(model.item_ids)
    fixed = np.zeros(len(order))
    fixed[order.index("a")] = np.nan
    fixed[order.index("b")] = -np.inf
    fixed[order.index("c")] = np.inf
    fixed[order.index("d")] = 1.0
    model.fixed = fixed
    recs = model.recommend(["u"], 5, exclude=False)
    # +inf first, then the finite scores ("gone" is 0), -inf as the lowest finite score;
    # NaN is never listed
    assert recs["item_id"].tolist() == ["c", "d", "gone", "b"]
    assert np.isfinite(recs["score"]).all()
