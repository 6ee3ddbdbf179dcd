"""Tiny planted-preference data: two user groups, each buying from its own item group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def planted_interactions(n_users: int = 60, n_items: int = 40, seed: int = 0) -> pd.DataFrame:
    """Users in group g buy mostly items of group g (half the catalog each), over 200 days."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2023-01-01")
    half = n_items // 2
    for u in range(n_users):
        group = u % 2
        for o in range(int(rng.integers(3, 7))):
            ts = start + pd.Timedelta(days=float(rng.uniform(0, 200)))
            k = int(rng.integers(2, 5))
            own = rng.choice(half, size=k, replace=False) + group * half
            items = list(own)
            if rng.random() < 0.2:
                items.append(int(rng.integers(0, n_items)))
            for i in items:
                rows.append(
                    {
                        "user_id": f"u{u:03d}",
                        "item_id": f"i{i:03d}",
                        "order_id": f"o{u:03d}-{o}",
                        "ts": ts,
                        "quantity": 1,
                        "unit_price": 1.0,
                        "country": "A" if group == 0 else "B",
                    }
                )
    return pd.DataFrame(rows).drop_duplicates(["order_id", "item_id"]).reset_index(drop=True)


def planted_items(n_items: int = 40) -> pd.DataFrame:
    half = n_items // 2
    words = ["candle holder", "tea mug"]
    return pd.DataFrame(
        {
            "item_id": [f"i{i:03d}" for i in range(n_items)],
            "description": [f"{words[i // half]} {i}" for i in range(n_items)],
            "text": [f"{words[i // half]} variant{i % 5}" for i in range(n_items)],
            "category": ["candle" if i < half else "mug" for i in range(n_items)],
            "price": [1.0 + (i % 7) for i in range(n_items)],
        }
    )


def planted_users(interactions: pd.DataFrame) -> pd.DataFrame:
    users = interactions.drop_duplicates("user_id")[["user_id", "country"]]
    return users.assign(rule_segment=np.where(users["country"] == "A", "loyal", "regular"))


@pytest.fixture(scope="module")
def tiny() -> dict[str, pd.DataFrame]:
    inter = planted_interactions()
    return {"interactions": inter, "items": planted_items(), "users": planted_users(inter)}
