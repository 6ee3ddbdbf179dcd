"""Cluster names in words, from each cluster's median recency, frequency and spend.

Each median is placed against the customers' tertiles (computed on the same snapshot), so
names read like "Recent frequent high-spend" and mean the same thing on any data set.
Clusters that would share a name get their most distinctive other feature appended.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WORDS = {
    # feature: words for the low, middle and high tertile of the cluster median
    "recency_days": ("Recent", "Cooling", "Lapsing"),
    "frequency": ("infrequent", "regular", "frequent"),
    "monetary": ("low-spend", "mid-spend", "high-spend"),
}
NOISE_LABEL = "Unclustered"


def _level(value: float, column: pd.Series) -> int:
    lo, hi = column.quantile([1 / 3, 2 / 3])
    return 0 if value <= lo else (1 if value <= hi else 2)


def name_clusters(
    features: pd.DataFrame, assigned: np.ndarray, extra_columns: list[str]
) -> dict[int, str]:
    """Cluster id -> a readable, unique name (noise, id -1, is "Unclustered")."""
    names: dict[int, str] = {}
    for c in sorted(set(assigned.tolist()) - {-1}):
        members = features[assigned == c]
        words = [
            WORDS[col][_level(float(members[col].median()), features[col])]
            for col in WORDS
            if col in features
        ]
        names[c] = " ".join(words) if words else f"Cluster {c}"
    counts = pd.Series(names).value_counts()
    extra = [c for c in extra_columns if c in features and c not in WORDS]
    if extra:
        x = features[extra].astype(float)
        z = (x - x.median()) / x.std(ddof=0).replace(0.0, 1.0)
        for c, name in list(names.items()):
            if counts[name] > 1:
                centre = z[assigned == c].median()
                col = centre.abs().idxmax()
                word = "high" if centre[col] > 0 else "low"
                names[c] = f"{name}, {word} {col.replace('_', ' ')}"
    seen: dict[str, int] = {}
    for c, name in names.items():
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[c] = f"{name} ({seen[name]})"
    names[-1] = NOISE_LABEL
    return names
