"""Champion/challenger rule: does this run's model replace the registered champion?

Both are compared on the newest data that neither was fitted on. The champion was fitted
on everything up to its ``as_of``; the lines after it form the comparison window. The
challenger's configuration is fitted on the same lines up to ``as_of`` (not the serving
refit, which has seen the window), and both rank the window's buyers with the project's
metrics. Without enough new buyers (the data did not move, e.g. a rerun on the same data)
the comparison falls back to the validation score the champion was registered with, and
a tie keeps the champion.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tailor.metrics import lists_from_frame, ranking_metrics
from tailor.recommenders.base import Recommender
from tailor.recommenders.evaluate import discovery_lists, holdout_truth

log = logging.getLogger(__name__)
SCORE_TAG = "val_ndcg_at_10"  # registered version tag: the validation score it was chosen on
AS_OF_TAG = "as_of"  # registered version tag: end of the data it was fitted on


def comparison_window(
    interactions: pd.DataFrame, champion_as_of: pd.Timestamp
) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """(lines up to the champion's ``as_of``, each of their buyers' new items after it)."""
    before = interactions[interactions["ts"] <= champion_as_of]
    after = interactions[interactions["ts"] > champion_as_of]
    return before.reset_index(drop=True), holdout_truth(before, after)


def window_score(model: Recommender, relevant: dict[str, set[str]], k: int, n_items: int) -> float:
    """NDCG@k of ``model`` on the comparison window's buyers (discovery protocol: a mixed
    list is judged on its new items, as every champion before it)."""
    recs = discovery_lists(model, sorted(relevant), k)
    return float(ranking_metrics(lists_from_frame(recs), relevant, [k], n_items)[f"ndcg_at_{k}"])


def decide(
    champion: dict[str, Any] | None,
    window: dict[str, Any] | None,
    challenger_val: float,
    data_end: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """The decision record. ``window``: both scores on the comparison window (or None when
    it had too few buyers); ``challenger_val``: this run's validation score; ``data_end``:
    the end of this run's data."""
    if champion is None:
        return {"promote": True, "comparison": "none", "reason": "no champion yet"}
    if (
        data_end is not None
        and champion.get("as_of")
        and pd.Timestamp(champion["as_of"]) > data_end
    ):
        # Fitted past the end of this data: other data, or this data rewound (data_end).
        # Neither score says which is better here, so the champion stays until a person
        # moves the alias.
        return {
            "champion_version": str(champion["version"]),
            "promote": False,
            "comparison": "incomparable",
            "reason": (
                f"champion v{champion['version']} was fitted on data up to {champion['as_of']}, "
                f"after this run's data ends ({data_end}): not comparable, champion kept"
            ),
        }
    if window is not None:
        return _verdict(
            champion,
            "recent_window",
            window["challenger"],
            window["champion"],
            f"NDCG@10 on {window['n_users']} buyers after {window['start']}",
            {k: window[k] for k in ("start", "end", "n_users")},
        )
    return _verdict(
        champion,
        "validation",
        challenger_val,
        float(champion.get("val_score", float("-inf"))),
        f"no new data since the champion's {champion['as_of']}: validation NDCG@10",
    )


def _verdict(
    champion: dict[str, Any],
    comparison: str,
    challenger: float,
    champion_score: float,
    what: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Promote only on a strictly higher score, compared at the precision stored in the
    version tag (so a rerun with the same score is a tie)."""
    new, old = round(float(challenger), 6), round(float(champion_score), 6)
    promote = new > old
    verb = ">" if promote else "<="
    return {
        "champion_version": str(champion["version"]),
        "promote": promote,
        "comparison": comparison,
        "champion_score": old,
        "challenger_score": new,
        **(extra or {}),
        "reason": f"{what}: challenger {new:.4f} {verb} champion v{champion['version']} {old:.4f}",
    }
