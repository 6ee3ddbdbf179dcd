"""How stable the clusters are: across seeds, and against last month's snapshot.

Both are adjusted Rand indices (1 = same partition, 0 = chance). "Changed share" counts the
customers whose cluster differs after matching cluster ids one-to-one (Hungarian), which is
what a marketer would see as "moved to another segment".
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of rows whose cluster differs once b's ids are matched to a's."""
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    table = np.zeros((len(ua), len(ub)), dtype=np.int64)
    np.add.at(table, (ia, ib), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(1 - table[rows, cols].sum() / len(a))


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {"ari": float(adjusted_rand_score(a, b)), "changed_share": changed_share(a, b)}
