"""A small hand-made hold-out world: users, items, two candidates and a served model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def eval_params() -> dict[str, Any]:
    """The project's evaluation parameters, with a cheap bootstrap."""
    params = yaml.safe_load((ROOT / "conf/base/parameters_evaluation.yml").read_text())
    params["evaluation"]["bootstrap"]["n_resamples"] = 200
    params["evaluation"]["groups"]["min_group_users"] = 5
    return params["evaluation"]


@pytest.fixture(scope="session")
def world() -> dict[str, pd.DataFrame]:
    """60 users in 3 countries; 40 items in 4 categories; 'oracle' lists hit, 'popular' not.

    ``served`` is the oracle for UK users and the popularity list for everyone else, so
    the served model has a known quality gap between country groups.
    """
    rng = np.random.default_rng(3)
    items = [f"i{j:02d}" for j in range(40)]
    catalog = pd.DataFrame(
        {
            "item_id": items,
            "text": [f"{c} thing {j}" for j, c in enumerate(["mug", "candle", "bag", "card"] * 10)],
            "category": ["mug", "candle", "bag", "card"] * 10,
        }
    )
    users = [f"u{u:02d}" for u in range(60)]
    country = ["United Kingdom"] * 30 + ["France"] * 20 + ["USA"] * 10
    cutoff = pd.Timestamp("2023-10-01")
    train_rows, test_rows = [], []
    for u, c in zip(users, country, strict=True):
        n_orders = int(rng.integers(1, 14))
        for o in range(n_orders):
            # the popular head i00..i04 is bought a lot in train
            item = items[int(rng.integers(0, 5))] if o % 2 == 0 else rng.choice(items)
            train_rows.append((u, item, f"{u}-o{o}", cutoff - pd.Timedelta(days=o + 1), c))
        for j, item in enumerate(rng.choice(items[5:], 3, replace=False)):
            test_rows.append((u, item, f"{u}-t{j}", cutoff + pd.Timedelta(days=10 + 20 * j), c))
    cols = ["user_id", "item_id", "order_id", "ts", "country"]
    train = pd.DataFrame(train_rows, columns=cols).assign(quantity=1.0, unit_price=1.0)
    test = pd.DataFrame(test_rows, columns=cols).assign(quantity=1.0, unit_price=1.0)
    # one user only bought again what they had already bought: not evaluated
    test = pd.concat(
        [
            test[test.user_id != "u59"],
            train[train.user_id == "u59"].head(1).assign(ts=cutoff + pd.Timedelta(days=2)),
        ],
        ignore_index=True,
    )
    truth = test.groupby("user_id")["item_id"].apply(list).to_dict()
    popular = items[:10]
    rec_rows = []
    for u, c in zip(users, country, strict=True):
        oracle = list(dict.fromkeys([*truth.get(u, []), *items[5:]]))[:20]
        lists = {
            "oracle": oracle,
            "popular": popular,
            "served": oracle if c == "United Kingdom" else popular,
        }
        for cand, lst in lists.items():
            rec_rows += [(cand, u, r + 1, it, 1.0 / (r + 1)) for r, it in enumerate(lst)]
    recs = pd.DataFrame(rec_rows, columns=["candidate", "user_id", "rank", "item_id", "score"])
    feats = (
        train.groupby("user_id")
        .agg(frequency=("order_id", "nunique"), country=("country", "first"))
        .reset_index()
    )
    segments = pd.DataFrame(
        {
            "user_id": users,
            "cluster_id": [u % 2 for u in range(60)],
            "cluster_label": ["big spenders" if u % 2 else "bargain hunters" for u in range(60)],
            "rule_segment": ["Loyal" if u < 40 else "At Risk" for u in range(60)],
        }
    )
    return {
        "catalog": catalog,
        "train": train,
        "test": test,
        "recs": recs,
        "features": feats,
        "segments": segments,
    }
