"""The retrain signal: data, not a crash. Fires when drift or the hold-out drop pass limits."""

from __future__ import annotations

import math
from typing import Any


def retrain_decision(
    drift_shares: dict[str, float],
    drifted_columns: dict[str, list[str]],
    holdout: dict[str, float],
    params: dict[str, Any],
) -> dict[str, Any]:
    """``{"retrain_recommended": bool, "reasons": [...], ...}`` from the monitoring results.

    ``drift_shares`` maps a report (customers, predictions) to its drifted-column share;
    ``holdout`` holds the served model's validation and hold-out metric (may be empty).
    """
    reasons: list[str] = []
    limits = params["max_drift_share"]
    for name, share in drift_shares.items():
        limit = limits.get(name)
        if limit is not None and share >= float(limit):
            cols = ", ".join(drifted_columns.get(name, []))
            reasons.append(f"{name} drift share {share:.2f} >= {float(limit):.2f} ({cols})")
    metric = params["holdout_metric"]
    val, test = holdout.get(f"val/{metric}"), holdout.get(f"test/{metric}")
    drop = float("nan")
    if val and test is not None and val > 0:
        drop = 1.0 - float(test) / float(val)
        if drop >= float(params["max_holdout_drop"]):
            reasons.append(
                f"hold-out {metric} {test:.4f} is {drop:.0%} below validation {val:.4f} "
                f"(limit {float(params['max_holdout_drop']):.0%})"
            )
    return {
        "retrain_recommended": bool(reasons),
        "reasons": reasons,
        "drift_shares": {k: float(v) for k, v in drift_shares.items()},
        "drifted_columns": drifted_columns,
        "holdout_metric": metric,
        "holdout_val": None if val is None else float(val),
        "holdout_test": None if test is None else float(test),
        "holdout_drop": None if math.isnan(drop) else drop,
    }
