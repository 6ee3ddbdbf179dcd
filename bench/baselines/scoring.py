"""The baselines' model: random user/item factors (4,000 items x 64), dot product, top-k."""

from __future__ import annotations

import zlib

import numpy as np

N_USERS, N_ITEMS, FACTORS = 5_000, 4_000, 64
_rng = np.random.default_rng(0)
USERS = _rng.standard_normal((N_USERS, FACTORS)).astype(np.float32)
ITEMS = _rng.standard_normal((N_ITEMS, FACTORS)).astype(np.float32)


def top_k(user_id: str, k: int) -> list[dict[str, object]]:
    scores = ITEMS @ USERS[zlib.crc32(user_id.encode()) % N_USERS]
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return [{"item_id": f"I{j:05d}", "score": float(scores[j])} for j in top]
