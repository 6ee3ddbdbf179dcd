"""Candidate clusterings (KMeans, DBSCAN, Ward), the choice between them, and the fitted model.

Candidates are scored on one seeded sample so silhouette (O(n²)) stays affordable and the
comparison is between algorithms, not samples. The chosen one is refitted (KMeans on every
row; Ward and DBSCAN on the sample) and kept as centroids or core points, so assigning any
later snapshot is a nearest-neighbour lookup in the same feature space.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.neighbors import NearestNeighbors

from tailor.segmentation.features import FeatureSpace

log = logging.getLogger(__name__)

NOISE = -1


def stable_sample(n_rows: int, size: int, seed: int) -> np.ndarray:
    """Sorted row positions of a seeded sample (all rows when there are fewer than ``size``)."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))


def _scores(x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    kept = labels != NOISE
    n_clusters = len(np.unique(labels[kept]))
    out = {"n_clusters": n_clusters, "noise_share": float(1 - kept.mean())}
    if n_clusters >= 2 and kept.sum() > n_clusters:
        out["silhouette"] = float(silhouette_score(x[kept], labels[kept]))
        out["davies_bouldin"] = float(davies_bouldin_score(x[kept], labels[kept]))
    else:
        out["silhouette"] = out["davies_bouldin"] = float("nan")
    return out


def kmeans_labels(x: np.ndarray, k: int, n_init: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return km.labels_, km.cluster_centers_


def search_candidates(x: np.ndarray, params: dict[str, Any], seed: int) -> pd.DataFrame:
    """Score every candidate on ``x``: KMeans and Ward over k, DBSCAN over the eps grid.

    Ward is one scipy linkage tree cut at each k (the same algorithm as sklearn's
    AgglomerativeClustering(linkage="ward"), without rebuilding the tree per k).
    """
    # Counts below the usable range are scored too, so the table shows what they would give.
    k_values = range(max(2, int(params["search_k_min"])), int(params["n_clusters"]["max"]) + 1)
    rows: list[dict[str, Any]] = []

    def add(algorithm: str, name: str, value: float, labels: np.ndarray, t0: float) -> None:
        row = {"algorithm": algorithm, "param": name, "value": value, **_scores(x, labels)}
        row["seconds"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
        log.info(
            "candidate %s %s=%s: %d clusters, silhouette %.3f, Davies-Bouldin %.3f",
            algorithm, name, value, row["n_clusters"], row["silhouette"], row["davies_bouldin"],
        )  # fmt: skip

    for k in k_values:
        t0 = time.perf_counter()
        add("kmeans", "k", k, kmeans_labels(x, k, int(params["kmeans_n_init"]), seed)[0], t0)
    t0 = time.perf_counter()
    tree = linkage(x, method="ward")
    build = time.perf_counter() - t0
    for k in k_values:
        t0 = time.perf_counter() - build / len(k_values)
        add("ward", "k", k, fcluster(tree, k, criterion="maxclust") - 1, t0)
    for eps in params["dbscan_eps"]:
        t0 = time.perf_counter()
        labels = DBSCAN(eps=float(eps), min_samples=int(params["dbscan_min_samples"])).fit(x)
        add("dbscan", "eps", float(eps), labels.labels_, t0)
    return pd.DataFrame(rows)


def rank_candidates(table: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Mark eligible candidates and rank them; the first row is the choice.

    Eligible: a cluster count marketing can act on (the parameter range) and little DBSCAN
    noise. Among those, the mean of the silhouette rank (higher is better) and the
    Davies-Bouldin rank (lower is better) decides; silhouette breaks ties.
    """
    t = table.copy()
    k_min, k_max = int(params["n_clusters"]["min"]), int(params["n_clusters"]["max"])
    t["eligible"] = (
        t["n_clusters"].between(k_min, k_max)
        & (t["noise_share"] <= float(params["max_noise_share"]))
        & t["silhouette"].notna()
    )
    ok = t["eligible"]
    t["rank_silhouette"] = t.loc[ok, "silhouette"].rank(ascending=False)
    t["rank_davies_bouldin"] = t.loc[ok, "davies_bouldin"].rank(ascending=True)
    t["mean_rank"] = (t["rank_silhouette"] + t["rank_davies_bouldin"]) / 2
    t = t.sort_values(
        ["eligible", "mean_rank", "silhouette"], ascending=[False, True, False], kind="stable"
    ).reset_index(drop=True)
    if not t["eligible"].any():
        raise ValueError(f"no candidate has {k_min}..{k_max} clusters; widen the search")
    t["chosen"] = False
    t.loc[0, "chosen"] = True
    return t


def explain_choice(ranked: pd.DataFrame, max_noise_share: float) -> str:
    """One sentence for the log: the choice, its scores, and what silhouette alone would pick."""
    best = ranked.iloc[0]
    ok = ranked[ranked["eligible"]]
    quiet = ranked[(ranked["noise_share"] <= max_noise_share) & ranked["silhouette"].notna()]
    top = quiet.loc[quiet["silhouette"].idxmax()]
    return (
        f"chose {best['algorithm']} {best['param']}={best['value']:g} ({best['n_clusters']} "
        f"clusters): silhouette {best['silhouette']:.3f} (best eligible "
        f"{ok['silhouette'].max():.3f}), Davies-Bouldin {best['davies_bouldin']:.3f} (best "
        f"eligible {ok['davies_bouldin'].min():.3f}), mean rank {best['mean_rank']:.1f} of "
        f"{len(ok)} eligible candidates; silhouette alone, at any count, would pick "
        f"{top['algorithm']} {top['param']}={top['value']:g} ({top['n_clusters']} clusters, "
        f"{top['silhouette']:.3f})"
    )


@dataclass
class ClusterModel:
    """A fitted clustering: its feature space and centroids (or DBSCAN core points)."""

    space: FeatureSpace
    algorithm: str
    value: float
    centroids: np.ndarray | None = None
    core_points: np.ndarray | None = None
    core_labels: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        if self.centroids is not None:
            return len(self.centroids)
        return len(np.unique(self.core_labels))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """Nearest centroid; for DBSCAN the nearest core point within eps, else noise (-1)."""
        if self.centroids is not None:
            d = ((x[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
            return d.argmin(axis=1)
        nn = NearestNeighbors(n_neighbors=1).fit(self.core_points)
        dist, idx = nn.kneighbors(x)
        out = self.core_labels[idx[:, 0]]
        return np.where(dist[:, 0] <= self.value, out, NOISE)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.predict_matrix(self.space.transform(features))


def fit_chosen(
    x: np.ndarray, algorithm: str, value: float, params: dict[str, Any], seed: int
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Refit one candidate; returns (centroids, core_points, core_labels)."""
    sample = x[stable_sample(len(x), int(params["sample_size"]), seed)]
    if algorithm == "kmeans":
        return kmeans_labels(x, int(value), int(params["kmeans_n_init"]), seed)[1], None, None
    if algorithm == "ward":
        labels = fcluster(linkage(sample, method="ward"), int(value), criterion="maxclust") - 1
        centroids = np.stack([sample[labels == c].mean(axis=0) for c in np.unique(labels)])
        return centroids, None, None
    if algorithm == "dbscan":
        db = DBSCAN(eps=value, min_samples=int(params["dbscan_min_samples"])).fit(sample)
        core = db.core_sample_indices_
        return None, sample[core], db.labels_[core]
    raise ValueError(f"unknown clustering algorithm {algorithm!r}")


def order_clusters(model: ClusterModel, assigned: np.ndarray, key: pd.Series) -> np.ndarray:
    """Renumber clusters by descending median ``key`` (cluster 0 = e.g. highest spend).

    Keeps ids comparable across seeds and months; returns the renumbered assignment.
    """
    present = [c for c in np.unique(assigned) if c != NOISE]
    medians = {c: float(key[assigned == c].median()) for c in present}
    order = sorted(present, key=lambda c: -medians[c])
    remap = {old: new for new, old in enumerate(order)}
    if model.centroids is not None:
        model.centroids = model.centroids[order]
    else:
        keep = np.isin(model.core_labels, present)
        model.core_points = model.core_points[keep]
        model.core_labels = np.array([remap[c] for c in model.core_labels[keep]])
    return np.array([remap.get(c, NOISE) for c in assigned])
