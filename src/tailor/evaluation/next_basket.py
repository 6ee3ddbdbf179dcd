"""The next-basket protocol beside the discovery one (DESIGN.md, "Evaluation protocol").

Truth: every item a customer known at the cutoff bought in the test window, repeats
included; lists are scored as the recommender wrote them (past items allowed). Population:
known customers with at least one test purchase; a customer without a list counts with
zeros. Each metric comes split into its repeat and explore parts (``tailor.metrics``).
The served list is compared, paired on the same users, with the best of the reference
candidates (popularity and the repeat-aware baselines) of the same run.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tailor.evaluation.bootstrap import bootstrap_mean_ci
from tailor.metrics import (
    basket_sets,
    bought_sets,
    lists_from_frame,
    per_user_next_basket_metrics,
)


def next_basket_per_user(
    recs: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, ks: Sequence[int]
) -> pd.DataFrame:
    """Rows (candidate, user_id) with every next-basket metric at every K."""
    missing = {"candidate", "user_id", "rank", "item_id"} - set(recs.columns)
    if missing:
        raise ValueError(f"recommendations_test_nb lacks columns {sorted(missing)}")
    bought = bought_sets(train)
    basket = basket_sets(test, users=bought)
    frames = []
    for candidate, rows in recs.groupby("candidate", sort=True):
        per_user = per_user_next_basket_metrics(lists_from_frame(rows), basket, bought, ks)
        frames.append(per_user.reset_index().assign(candidate=str(candidate)))
    if not frames:
        raise ValueError("recommendations_test_nb holds no candidate")
    out = pd.concat(frames, ignore_index=True)
    return out[["candidate", "user_id", *[c for c in out if c not in ("candidate", "user_id")]]]


def next_basket_table(
    per_user: pd.DataFrame,
    ci_metric: str,
    served: str,
    references: Sequence[str],
    n_resamples: int,
    confidence: float,
    seed: int,
) -> pd.DataFrame:
    """One row per candidate: means, a CI for ``ci_metric``, and for every candidate the
    paired difference to the best reference (by mean ``ci_metric``; column ``reference``),
    its CI and the ratio."""
    means = per_user.groupby("candidate").mean(numeric_only=True)
    present = [r for r in references if r in means.index]
    if not present:
        raise ValueError(f"evaluation.next_basket.references: none of {list(references)} found")
    if served not in means.index:
        raise ValueError(f"recommendations_test_nb has no candidate '{served}'")
    best = max(present, key=lambda r: means.loc[r, ci_metric])
    base = per_user[per_user["candidate"] == best].set_index("user_id")[ci_metric]
    rows = []
    for candidate, frame in per_user.groupby("candidate", sort=True):
        values = frame.set_index("user_id")[ci_metric]
        low, high = bootstrap_mean_ci(values.to_numpy(), n_resamples, confidence, seed)
        diff = values - base.reindex(values.index).fillna(0.0)
        d_low, d_high = bootstrap_mean_ci(diff.to_numpy(), n_resamples, confidence, seed)
        rows.append(
            {
                "candidate": str(candidate),
                "n_users": len(frame),
                **means.loc[candidate].to_dict(),
                f"{ci_metric}_ci_low": low,
                f"{ci_metric}_ci_high": high,
                "reference": best,
                f"{ci_metric}_ratio": float(values.mean() / max(base.mean(), 1e-12)),
                f"{ci_metric}_diff": float(diff.mean()),
                f"{ci_metric}_diff_ci_low": d_low,
                f"{ci_metric}_diff_ci_high": d_high,
            }
        )
    return pd.DataFrame(rows).sort_values(ci_metric, ascending=False).reset_index(drop=True)
