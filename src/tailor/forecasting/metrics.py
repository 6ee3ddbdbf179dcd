"""The one implementation of the forecast and purchase-timing metrics.

Demand: MAE, bias, sMAPE and MASE, and the coverage and width of an interval, scored on
trading days only (a closed shop sells nothing by decision, not by demand). Timing: MAE on
customers whose next purchase was observed, Harrell's concordance on everyone (censored
customers included, via lifelines) and ROC AUC of the "buys within N days" probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines.utils import concordance_index
from sklearn.metrics import roc_auc_score


def weekly_naive_scale(history: pd.Series, trading: pd.Series, season: int = 7) -> float:
    """Mean absolute change from the same weekday a week earlier, over trading-day pairs.

    ``history`` and ``trading`` are indexed by consecutive calendar days. This is the MASE
    denominator: the in-sample error of the weekly seasonal naive forecast.
    """
    y = history.to_numpy(dtype=float)
    t = trading.to_numpy(dtype=bool)
    if len(y) <= season:
        raise ValueError(f"MASE scale needs more than {season} days of history, got {len(y)}")
    both = t[season:] & t[:-season]
    if not both.any():
        raise ValueError("MASE scale: no pair of trading days a season apart")
    return float(np.mean(np.abs(y[season:][both] - y[:-season][both])))


def forecast_metrics(
    actual: pd.Series, forecast: pd.Series, trading: pd.Series, scale: float
) -> dict[str, float]:
    """MAE, bias (mean forecast - actual: negative = under-forecast), sMAPE (%) and MASE.

    Only days where ``trading`` is true are scored; all three series share one index.
    """
    mask = trading.to_numpy(dtype=bool)
    if not mask.any():
        raise ValueError("no trading day to score")
    y = actual.to_numpy(dtype=float)[mask]
    f = forecast.to_numpy(dtype=float)[mask]
    err = f - y
    denom = np.abs(y) + np.abs(f)
    ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(err), where=denom > 0)
    mae = float(np.mean(np.abs(err)))
    return {
        "mae": mae,
        "bias": float(np.mean(err)),
        "smape": float(100 * np.mean(ratio)),
        "mase": mae / scale if scale > 0 else float("nan"),
        "n_days": float(mask.sum()),
    }


def interval_metrics(
    actual: pd.Series, lower: pd.Series, upper: pd.Series, trading: pd.Series, scale: float
) -> dict[str, float]:
    """Coverage (share of trading days inside [lower, upper]) and mean width of an interval,
    the width also in units of the MASE scale (comparable across series)."""
    mask = trading.to_numpy(dtype=bool)
    if not mask.any():
        raise ValueError("no trading day to score")
    y = actual.to_numpy(dtype=float)[mask]
    lo = lower.to_numpy(dtype=float)[mask]
    hi = upper.to_numpy(dtype=float)[mask]
    width = float(np.mean(hi - lo))
    return {
        "coverage": float(np.mean((y >= lo) & (y <= hi))),
        "width": width,
        "width_scaled": width / scale if scale > 0 else float("nan"),
    }


def timing_metrics(
    observed_days: np.ndarray,
    event: np.ndarray,
    predicted_days: np.ndarray,
    p_within: np.ndarray,
    within_days: int,
    elapsed_days: np.ndarray | None = None,
) -> dict[str, float]:
    """Score next-purchase predictions against a window where some customers are censored.

    ``observed_days``: days from the as-of date to the next purchase, or to the end of the
    observation window when ``event`` is false (censored: no purchase in the window).
    - ``mae_uncensored``: only customers with an event (a censored time is a lower bound);
    - ``c_index``: Harrell's concordance of the predicted and observed days from the as-of
      date, everyone included, censored times as lower bounds (lifelines);
    - ``c_index_gap``: the same on the whole gap since the last purchase (``elapsed_days`` +
      days), which is what a gap model is judged on;
    - ``auc_<N>d``: "bought within N days", known for a censored customer only when the
      window is at least N days long.
    """
    t = np.asarray(observed_days, dtype=float)
    e = np.asarray(event, dtype=bool)
    pred = np.asarray(predicted_days, dtype=float)
    p = np.asarray(p_within, dtype=float)
    out = {
        "n": float(len(t)),
        "n_events": float(e.sum()),
        "mae_uncensored": float(np.mean(np.abs(pred[e] - t[e]))) if e.any() else float("nan"),
        "c_index": float(concordance_index(t, pred, e)),
    }
    if elapsed_days is not None:
        r = np.asarray(elapsed_days, dtype=float)
        out["c_index_gap"] = float(concordance_index(r + t, r + pred, e))
    known = e | (t >= within_days)
    label = (e & (t <= within_days))[known]
    out[f"auc_{within_days}d"] = (
        float(roc_auc_score(label, p[known])) if 0 < label.sum() < len(label) else float("nan")
    )
    return out
