"""Served vs popularity: a paired bootstrap CI of the per-user difference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.evaluation.breakdowns import summary_table


def per_user(base: np.ndarray, lift: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    users = [f"u{i}" for i in range(len(base))]
    table = pd.concat(
        [
            pd.DataFrame({"candidate": "popularity", "user_id": users, "ndcg_at_10": base}),
            pd.DataFrame({"candidate": "served", "user_id": users, "ndcg_at_10": base + lift}),
        ],
        ignore_index=True,
    )
    recs = pd.DataFrame(
        {"candidate": ["served", "popularity"], "user_id": "u0", "rank": 1, "item_id": "a"}
    )
    return table, recs


def summary(table: pd.DataFrame, recs: pd.DataFrame) -> pd.DataFrame:
    return summary_table(
        table, recs, 10, [10], "ndcg_at_10", 500, 0.95, seed=0, baseline="popularity"
    ).set_index("candidate")


def test_paired_interval_is_tight_where_the_marginal_ones_overlap() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 200)
    # every user gains 0.02: the two marginal CIs overlap, the paired one excludes 0
    out = summary(*per_user(base, np.full(200, 0.02)))
    served = out.loc["served"]
    assert served["ndcg_at_10_ci_low"] < out.loc["popularity", "ndcg_at_10_ci_high"]
    assert np.isclose(served["ndcg_at_10_diff"], 0.02)
    assert np.isclose(served["ndcg_at_10_diff_ci_low"], 0.02)
    assert np.isclose(served["ndcg_at_10_diff_ci_high"], 0.02)
    assert out.loc["popularity", "ndcg_at_10_diff"] == 0.0


def test_paired_interval_straddles_zero_for_a_coin_flip_difference() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 300)
    lift = rng.choice([-0.1, 0.1], size=300)
    served = summary(*per_user(base, lift)).loc["served"]
    assert np.isclose(served["ndcg_at_10_diff"], lift.mean())
    assert served["ndcg_at_10_diff_ci_low"] < 0 < served["ndcg_at_10_diff_ci_high"]
