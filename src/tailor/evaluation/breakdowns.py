"""Means of per-user metrics overall and per group, with bootstrap intervals.

All numbers here are means of the rows of ``tailor.evaluation.protocol.per_user_table``,
so the overall row, the group rows and the intervals describe the same users.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tailor.evaluation.bootstrap import bootstrap_mean_ci
from tailor.evaluation.groups import group_sort_key
from tailor.metrics import coverage, lists_from_frame, metric_key
from tailor.progress import progress

ID_COLUMNS = ("candidate", "user_id")


def metric_columns(per_user: pd.DataFrame) -> list[str]:
    return [c for c in per_user.columns if c not in ID_COLUMNS]


def summary_table(
    per_user: pd.DataFrame,
    recs: pd.DataFrame,
    n_items: int,
    ks: Sequence[int],
    ci_metric: str,
    n_resamples: int,
    confidence: float,
    seed: int,
    baseline: str | None = None,
) -> pd.DataFrame:
    """One row per candidate: n_users, every mean, coverage@K, and a CI for ``ci_metric``.

    With ``baseline`` (a candidate name), also the mean per-user difference candidate -
    baseline in ``ci_metric`` with a paired bootstrap CI (the same users resampled for
    both, so the interval is of the difference, not two overlapping intervals).
    """
    base = None
    if baseline is not None and baseline in set(per_user["candidate"]):
        base = per_user[per_user["candidate"] == baseline].set_index("user_id")[ci_metric]
    rows = []
    by_candidate = per_user.groupby("candidate", sort=True)
    for candidate, frame in progress(by_candidate, "bootstrap CIs", by_candidate.ngroups):
        users = set(frame["user_id"])
        lists = lists_from_frame(recs[recs["candidate"] == candidate])
        lists = {u: items for u, items in lists.items() if u in users}
        row: dict[str, float | str] = {"candidate": str(candidate), "n_users": len(frame)}
        row.update(frame[metric_columns(per_user)].mean().to_dict())
        for k in ks:
            row[metric_key("coverage", k)] = coverage(lists, k, n_items)
        low, high = bootstrap_mean_ci(frame[ci_metric].to_numpy(), n_resamples, confidence, seed)
        row[f"{ci_metric}_ci_low"], row[f"{ci_metric}_ci_high"] = low, high
        if base is not None:
            diff = frame.set_index("user_id")[ci_metric] - base.reindex(frame["user_id"])
            d_low, d_high = bootstrap_mean_ci(diff.to_numpy(), n_resamples, confidence, seed)
            row[f"{ci_metric}_diff"] = float(diff.mean())
            row[f"{ci_metric}_diff_ci_low"], row[f"{ci_metric}_diff_ci_high"] = d_low, d_high
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(
    per_user: pd.DataFrame,
    groups: pd.DataFrame,
    ci_metric: str,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> pd.DataFrame:
    """Rows (candidate, grouping, group): n_users, every mean, a CI for ``ci_metric``."""
    metrics = metric_columns(per_user)
    joined = per_user.join(groups, on="user_id")
    rows = []
    for grouping in progress(groups.columns, "bootstrap CIs by group", unit="grouping"):
        for (candidate, group), frame in joined.groupby(["candidate", grouping], sort=True):
            low, high = bootstrap_mean_ci(
                frame[ci_metric].to_numpy(), n_resamples, confidence, seed
            )
            rows.append(
                {
                    "candidate": candidate,
                    "grouping": grouping,
                    "group": group,
                    "n_users": len(frame),
                    **frame[metrics].mean().to_dict(),
                    f"{ci_metric}_ci_low": low,
                    f"{ci_metric}_ci_high": high,
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = {grouping: i for i, grouping in enumerate(groups.columns)}
    keys = [
        (row.candidate, order[row.grouping], group_sort_key(row.grouping, str(row.group)))
        for row in table.itertuples()
    ]
    ranked = sorted(range(len(table)), key=keys.__getitem__)
    return table.iloc[ranked].reset_index(drop=True)
