"""Customer nodes of the forecasting pipeline: next purchase and replenishment."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from tailor.forecasting.metrics import timing_metrics
from tailor.forecasting.next_purchase import TIMING_MODELS, fit_predict, snapshot
from tailor.forecasting.replenishment import replenishment_candidates, replenishment_hit_rate

log = logging.getLogger(__name__)
Metrics = dict[str, dict[str, float]]
PRIMARY = "mae_uncensored"  # the declared primary metric: MAE in days on returners


def _snapshots(
    lines: pd.DataFrame, last_as_of: pd.Timestamp, observed_until: pd.Timestamp, p: dict[str, Any]
) -> pd.DataFrame:
    """Training snapshots ending at ``last_as_of``, outcomes seen until ``observed_until``."""
    frames = [
        snapshot(
            lines,
            last_as_of - pd.Timedelta(days=k * p["snapshot_step_days"]),
            observed_until,
            p["min_purchase_days"],
        )
        for k in range(int(p["n_snapshots"]))
    ]
    return pd.concat(frames, ignore_index=True)


def _score(test: pd.DataFrame, pred: pd.DataFrame, within: int, mask=None) -> dict[str, float]:
    mask = np.ones(len(test), bool) if mask is None else mask
    return timing_metrics(
        test["days"].to_numpy()[mask],
        test["event"].to_numpy()[mask],
        pred["expected_days"].to_numpy()[mask],
        pred["p_buy_within"].to_numpy()[mask],
        within,
        elapsed_days=test["recency_days"].to_numpy(dtype=float)[mask],
    )


def _predictions(
    train: pd.DataFrame, test: pd.DataFrame, within: int, p: dict, seed: int, window: str
) -> dict[str, pd.DataFrame]:
    """Every candidate that can be fitted on ``train``; the others are left out with a
    warning (the median-interval baseline needs no fit, so it is always there)."""
    out = {}
    for m in TIMING_MODELS:
        try:
            out[m] = fit_predict(m, train, test, within, p, seed)
        except ValueError as err:
            log.warning(
                "next purchase (%s): %s left out, too little history before the cut-off "
                "(forecasting.next_purchase.n_snapshots / snapshot_step_days, "
                "split.validation_days): %s",
                window,
                m,
                err,
            )
    return out


def evaluate_next_purchase(
    customer_lines: pd.DataFrame,
    segments: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
    seed: int,
) -> tuple[pd.DataFrame, Metrics]:
    """Choose the served next-purchase model on validation, then test every candidate.

    Validation: candidates fitted on snapshots up to ``validation_days`` before the
    validation cutoff (outcomes seen until it), scored at the validation cutoff (outcomes
    until the split cutoff); the served model has the lowest validation MAE on returners
    (the declared primary metric; ties: the simpler model). Test: refitted on snapshots up
    to the validation cutoff (outcomes until the split cutoff), scored at the split cutoff
    with outcomes to the end of the test window, so the test window is never used to fit
    or choose. Rows: model x window x segment ('all' and each segment, test only).
    """
    p = params
    within = int(p["within_days"])
    cutoff = pd.Timestamp(split["cutoff"])
    step = pd.Timedelta(days=int(split["validation_days"]))
    val_cut = cutoff - step
    end = pd.Timestamp(split.get("test_end") or customer_lines["ts"].max())
    inner = _snapshots(customer_lines, val_cut - step, val_cut, p)
    val = snapshot(customer_lines, val_cut, cutoff, p["min_purchase_days"])
    val_scores = {
        m: _score(val, pred, within)
        for m, pred in _predictions(inner, val, within, p, seed, "validation").items()
    }
    if not val_scores:
        raise ValueError(
            f"next purchase: no customer with {p['min_purchase_days']} purchase days "
            "(forecasting.next_purchase.min_purchase_days) at the validation cutoff "
            f"{val_cut.date()} (split.cutoff - split.validation_days)"
        )
    order = [m for m in TIMING_MODELS if m in val_scores]
    served = min(order, key=lambda m: (val_scores[m][PRIMARY], order.index(m)))
    log.info(
        "next purchase: served %s (validation %s %s)",
        served,
        PRIMARY,
        {m: round(v[PRIMARY], 2) for m, v in val_scores.items()},
    )
    train = _snapshots(customer_lines, val_cut, cutoff, p)
    test = snapshot(customer_lines, cutoff, end, p["min_purchase_days"])
    preds = _predictions(train, test, within, p, seed, "test")
    seg = (
        segments.set_index("user_id")[params["segment_column"]]
        if len(segments)
        else pd.Series(dtype=str)
    )
    seg_of = test["user_id"].map(seg).fillna("unsegmented").to_numpy()
    rows = [
        {"model": m, "served": m == served, "window": "validation", "segment": "all", **v}
        for m, v in val_scores.items()
    ]
    for name, pred in preds.items():
        for segment in ["all", *sorted(set(seg_of))]:
            mask = np.ones(len(test), bool) if segment == "all" else seg_of == segment
            if mask.sum() < int(p["min_segment_customers"]):
                continue
            m = _score(test, pred, within, mask)
            rows.append(
                {"model": name, "served": name == served, "window": "test", "segment": segment, **m}
            )
    table = pd.DataFrame(rows)
    metrics: Metrics = {}
    keys = {
        PRIMARY: "mae",
        "c_index": "c_index",
        "c_index_gap": "c_index_gap",
        f"auc_{within}d": f"auc_{within}d",
        "n": "n",
        "n_events": "n_events",
    }
    for r in table[table["segment"] == "all"].to_dict("records"):
        prefix = "val_" if r["window"] == "validation" else ""
        for name in [r["model"], "served"] if r["served"] else [r["model"]]:
            for k, key in keys.items():
                metrics[f"next_purchase/{name}/{prefix}{key}"] = {"value": float(r[k]), "step": 0}
    log.info("next purchase (test): %s", table[(table["segment"] == "all")].to_dict("records"))
    return table, metrics


def predict_next_purchase(
    customer_lines: pd.DataFrame, evaluation: pd.DataFrame, params: dict[str, Any], seed: int
) -> pd.DataFrame:
    """The served model's predictions as of the end of the data, fitted on snapshots whose
    outcomes are known by then.

    Columns: user_id, expected_days, p_buy_30d, predicted_date (the contract), plus
    interval_days, recency_days, as_of and model.
    """
    p = params
    served = str(evaluation.loc[evaluation["served"], "model"].iloc[0])
    end = customer_lines["ts"].max()
    horizon = pd.Timedelta(days=int(p["serving_observation_days"]))
    train = _snapshots(customer_lines, end - horizon, end, p)
    now = snapshot(customer_lines, end, None, p["min_purchase_days"])
    within = int(p["within_days"])
    try:
        pred = fit_predict(served, train, now, within, p, seed)
    except ValueError as err:  # too little recent history to refit: the baseline needs none
        log.warning(
            "next purchase: serving %s failed (%s); serving interval_heuristic", served, err
        )
        served = "interval_heuristic"
        pred = fit_predict(served, train, now, within, p, seed)
    pred["as_of"] = end
    pred["model"] = served
    pred["predicted_date"] = end.normalize() + pd.to_timedelta(pred["expected_days"], unit="D")
    pred = pred.rename(columns={"p_buy_within": f"p_buy_{within}d"})
    cols = [
        "user_id",
        "expected_days",
        f"p_buy_{within}d",
        "predicted_date",
        "interval_days",
        "recency_days",
        "as_of",
        "model",
    ]
    return pred[cols]


def build_replenishment(
    customer_lines: pd.DataFrame, split: dict[str, Any], params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, Metrics]:
    """Candidates as of the end of the data, and their hit rate measured at the cutoff.

    Evaluation: candidates computed from data up to the split cutoff, hit = the customer
    bought the item again within ``horizon_days``; the baseline is every repeatedly
    bought (customer, item) pair regardless of when it is due.
    """
    p = params
    args = (int(p["min_purchase_days"]), int(p["horizon_days"]), int(p["overdue_days"]))
    cutoff = pd.Timestamp(split["cutoff"])
    due = replenishment_candidates(customer_lines, cutoff, *args)
    every = replenishment_candidates(customer_lines, cutoff, p["min_purchase_days"], 10**6, 10**6)
    window = int(p["horizon_days"])
    rows = [
        {
            "model": "due_soon",
            "pairs": len(due),
            "hit_rate": replenishment_hit_rate(due, customer_lines, window, cutoff),
        },
        {
            "model": "all_repeats",
            "pairs": len(every),
            "hit_rate": replenishment_hit_rate(every, customer_lines, window, cutoff),
        },
    ]
    table = pd.DataFrame(rows)
    metrics = {
        f"forecast/replenishment/{r['model']}/{k}": {"value": float(r[k]), "step": 0}
        for r in rows
        for k in ("pairs", "hit_rate")
    }
    end = customer_lines["ts"].max()
    return replenishment_candidates(customer_lines, end, *args), table, metrics
