"""Evaluation figures (built on ``matplotlib.figure.Figure``: no global pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tailor.metrics import metric_key


def metric_curves(summary: pd.DataFrame, metrics: Sequence[str], ks: Sequence[int]) -> Figure:
    """Metric@K against K, one line per candidate, one panel per metric."""
    fig = Figure(figsize=(4 * len(metrics), 3.6), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        for row in summary.itertuples():
            values = [getattr(row, metric_key(metric, k)) for k in ks]
            ax.plot(ks, values, marker="o", label=row.candidate)
        ax.set_title(f"{metric}@K")
        ax.set_xlabel("K")
        ax.set_xticks(list(ks))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return fig


def group_bars(groups: pd.DataFrame, candidate: str, metric: str) -> Figure:
    """Per-group means of ``metric`` for ``candidate`` with bootstrap intervals, per grouping."""
    rows = groups[groups["candidate"] == candidate]
    groupings = list(dict.fromkeys(rows["grouping"]))
    fig = Figure(figsize=(4.2 * max(len(groupings), 1), 3.8), layout="constrained")
    axes = fig.subplots(1, max(len(groupings), 1), squeeze=False)[0]
    for ax, grouping in zip(axes, groupings, strict=False):
        g = rows[rows["grouping"] == grouping]
        mean = g[metric].to_numpy()
        low = np.nan_to_num(mean - g[f"{metric}_ci_low"].to_numpy())
        high = np.nan_to_num(g[f"{metric}_ci_high"].to_numpy() - mean)
        x = np.arange(len(g))
        ax.bar(x, mean, yerr=[low, high], capsize=3, color="tab:blue", alpha=0.8)
        ax.set_xticks(
            x,
            [f"{grp}\n(n={n})" for grp, n in zip(g["group"], g["n_users"], strict=True)],
            rotation=45,
            ha="right",
            fontsize=7,
        )
        ax.set_title(grouping)
        ax.set_ylabel(metric)
    fig.suptitle(f"{candidate}: {metric} by group (95% bootstrap CI)")
    return fig


def popularity_bias_chart(exposure: pd.DataFrame, k: int) -> Figure:
    """Share of top-K slots per item-popularity bin, candidates against purchases."""
    wide = exposure.pivot(index="bin", columns="source", values="share").sort_index()
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    refs = [c for c in ("test purchases", "catalog") if c in wide]
    cands = [c for c in wide.columns if c not in refs]
    width = 0.8 / max(len(cands), 1)
    x = wide.index.to_numpy()
    for i, cand in enumerate(cands):
        ax.bar(x - 0.4 + width * (i + 0.5), wide[cand], width=width, label=cand)
    for ref, style in zip(refs, ("k-o", "k--"), strict=False):
        ax.plot(x, wide[ref], style, label=ref)
    ax.set_xlabel("item popularity bin in train (1 = least bought)")
    ax.set_ylabel(f"share of top-{k} slots")
    ax.set_xticks(x)
    ax.legend(fontsize=8)
    ax.set_title("Popularity bias: where recommendation exposure goes")
    return fig
