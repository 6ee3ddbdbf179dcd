"""Nodes of the forecasting pipeline: thin wrappers over ``tailor.forecasting``."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tailor.forecasting.calendar import ShopCalendar, learn_calendar
from tailor.forecasting.demand import (
    DemandSettings,
    choose_served,
    forecast_all,
    forecast_one,
    long_forecast,
    score,
    split_at,
    validate,
)
from tailor.forecasting.metrics import timing_metrics
from tailor.forecasting.next_purchase import (
    NextPurchaseModel,
    gradient_boosting_baseline,
    interval_heuristic,
    snapshot,
)
from tailor.forecasting.plots import forecast_figure
from tailor.forecasting.replenishment import replenishment_candidates, replenishment_hit_rate
from tailor.forecasting.series import (
    TARGETS,
    SeriesTooShortError,
    overall_series,
    segment_series,
)
from tailor.forecasting.tuning import tune_prophet
from tailor.metric_keys import slug

log = logging.getLogger(__name__)
METRICS = ("mae", "bias", "smape", "mase")
Metrics = dict[str, dict[str, float]]


def holdout_window(
    daily_demand: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first, last) hold-out day: from the parameters, or the last ``horizon_days`` days."""
    end = pd.Timestamp(params["holdout_end"] or pd.to_datetime(daily_demand["date"]).max())
    start = params["holdout_start"]
    if start is None:
        return end - pd.Timedelta(days=int(params["horizon_days"]) - 1), end
    return pd.Timestamp(start), end


def _calendar(daily: pd.DataFrame, params: dict[str, Any]) -> ShopCalendar:
    return learn_calendar(
        daily, params["country"], params["min_trading_share"], params["annual_closures"]
    )


def _train_and_holdout(
    daily_demand: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.Timestamp, pd.Timestamp, ShopCalendar]:
    start, end = holdout_window(daily_demand, params)
    train_daily = daily_demand[pd.to_datetime(daily_demand["date"]) < start]
    return start, end, _calendar(train_daily, params)


def _holdout_split(series: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp):
    train, rest = split_at(series, start - pd.Timedelta(days=1))
    return train, rest[rest["date"] <= end].reset_index(drop=True)


def tune_demand(
    daily_demand: pd.DataFrame, params: dict[str, Any], seed: int
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Tune Prophet per overall target on rolling-origin folds before the hold-out."""
    start, _, calendar = _train_and_holdout(daily_demand, params)
    settings = DemandSettings.from_params(params)
    best: dict[str, dict[str, Any]] = {}
    trials = []
    for target in TARGETS:
        train, _ = split_at(overall_series(daily_demand, target), start - pd.Timedelta(days=1))
        best[target], t = tune_prophet(
            train,
            calendar,
            settings,
            params["tuning"]["space"],
            int(params["tuning"]["n_trials"]),
            seed,
            target,
            params["prophet"]["defaults"],
        )
        trials.append(t)
        log.info("prophet %s: best %s", target, best[target])
    return best, pd.concat(trials, ignore_index=True)


def _rows(target: str, segment: str, window: str, model: str, m: dict[str, float]) -> dict:
    return {"target": target, "segment": segment, "window": window, "model": model, **m}


def evaluate_demand(
    daily_demand: pd.DataFrame,
    demand_lines: pd.DataFrame,
    segments: pd.DataFrame,
    prophet_params: dict[str, dict[str, Any]],
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, Metrics]:
    """Validation and hold-out metrics of every candidate, overall and per segment.

    Overall: every candidate on the rolling-origin folds (the served model is the lowest
    mean validation MASE) and on the hold-out. Per segment (segments as of the split
    cutoff, before the hold-out): ``segment_models`` and the overall served model kind on
    the hold-out, the latter marked as served. Segments too short to fit are skipped with a warning.
    """
    start, end, calendar = _train_and_holdout(daily_demand, params)
    settings = DemandSettings.from_params(params)
    rows: list[dict] = []
    forecasts: list[pd.DataFrame] = []
    served: dict[str, str] = {}
    for target in TARGETS:
        train, holdout = _holdout_split(overall_series(daily_demand, target), start, end)
        folds = validate(train, calendar, prophet_params[target], settings)
        served[target] = choose_served(folds)
        for model, part in folds.groupby("model"):
            rows.append(
                _rows(target, "all", "validation", str(model), part[list(METRICS)].mean().to_dict())
            )
        fcs = forecast_all(
            train, pd.DatetimeIndex(holdout["date"]), calendar, prophet_params[target], settings
        )
        for model, fc in fcs.items():
            rows.append(_rows(target, "all", "holdout", model, score(train, holdout, fc)))
        forecasts.append(long_forecast(fcs, holdout, target=target, segment="all"))
        log.info("%s: served %s (validation MASE)", target, served[target])
    seg_col = params["segment_column"]
    for (segment, target), series in segment_series(
        demand_lines, segments, seg_col, daily_demand
    ).items():
        train, holdout = _holdout_split(series, start, end)
        models = (*params["segment_models"], served[target])
        try:
            fcs = forecast_all(
                train,
                pd.DatetimeIndex(holdout["date"]),
                calendar,
                prophet_params[target],
                settings,
                models=models,
            )
        except SeriesTooShortError as err:
            log.warning("segment %s skipped: %s", segment, err)
            continue
        for model, fc in fcs.items():
            rows.append(_rows(target, segment, "holdout", model, score(train, holdout, fc)))
        forecasts.append(long_forecast(fcs, holdout, target=target, segment=segment))
    results = pd.DataFrame(rows)
    results["served"] = [
        served[t] == m for t, m in zip(results["target"], results["model"], strict=True)
    ]
    results = results[["target", "segment", "window", "model", "served", *METRICS, "n_days"]]
    return results, pd.concat(forecasts, ignore_index=True), _metrics(results)


def metric_target(target: str, segment: str) -> str:
    return target if segment == "all" else f"{target}_seg_{slug(segment)}"


def _metrics(results: pd.DataFrame) -> Metrics:
    """``forecast/<target>/<model>/<metric>`` on the hold-out, ``val_<metric>`` on folds."""
    out: Metrics = {}
    for r in results.itertuples(index=False):
        key_target = metric_target(r.target, r.segment)
        prefix = "" if r.window == "holdout" else "val_"
        names = [r.model, "served"] if r.served else [r.model]
        for name in names:
            for m in METRICS:
                out[f"forecast/{key_target}/{name}/{prefix}{m}"] = {
                    "value": float(getattr(r, m)),
                    "step": 0,
                }
    return out


def plot_demand(
    daily_demand: pd.DataFrame,
    holdout_forecasts: pd.DataFrame,
    results: pd.DataFrame,
    params: dict[str, Any],
) -> dict[str, Figure]:
    """One PNG per overall target: history, hold-out truth, all models, served interval."""
    start, _ = holdout_window(daily_demand, params)
    figures = {}
    for target in TARGETS:
        history = overall_series(daily_demand, target)
        history = history[history["date"] < start]
        part = holdout_forecasts[
            (holdout_forecasts["target"] == target) & (holdout_forecasts["segment"] == "all")
        ]
        served = str(
            results.loc[(results["target"] == target) & results["served"], "model"].iloc[0]
        )
        figures[f"forecast_{target}.png"] = forecast_figure(
            history,
            part,
            served,
            f"Daily {target}: hold-out forecasts (served: {served})",
            int(params["plot_history_days"]),
        )
    return figures


def forecast_demand(
    daily_demand: pd.DataFrame,
    demand_lines: pd.DataFrame,
    segments: pd.DataFrame,
    prophet_params: dict[str, dict[str, Any]],
    results: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """The served model refitted on all the data: the next ``horizon_days`` days.

    Overall and per segment (segments as of the end of the data). Columns: target,
    segment, model, date, yhat, yhat_lower, yhat_upper, open.
    """
    calendar = _calendar(daily_demand, params)
    settings = DemandSettings.from_params(params)
    last = pd.to_datetime(daily_demand["date"]).max()
    dates = pd.date_range(last + pd.Timedelta(days=1), periods=settings.horizon_days, freq="D")
    served = (
        results[results["served"] & (results["segment"] == "all")]
        .groupby("target")["model"]
        .first()
    )
    series = {("all", t): overall_series(daily_demand, t) for t in TARGETS}
    series |= segment_series(demand_lines, segments, params["segment_column"], daily_demand)
    frames = []
    for (segment, target), history in series.items():
        model = str(served[target])
        try:
            fc = forecast_one(model, history, dates, calendar, prophet_params[target], settings)
        except SeriesTooShortError as err:
            log.warning("segment %s skipped: %s", segment, err)
            continue
        frames.append(
            fc.reset_index(names="date").assign(target=target, segment=segment, model=model)
        )
    out = pd.concat(frames, ignore_index=True)
    out["open"] = calendar.is_open(pd.DatetimeIndex(out["date"])).to_numpy()
    return out[["target", "segment", "model", "date", "yhat", "yhat_lower", "yhat_upper", "open"]]


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


def _fit(train: pd.DataFrame, p: dict[str, Any]) -> NextPurchaseModel:
    return NextPurchaseModel.fit(train, p["family"], float(p["penalizer"]), int(p["max_days"]))


def evaluate_next_purchase(
    customer_lines: pd.DataFrame,
    segments: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
    seed: int,
) -> tuple[pd.DataFrame, Metrics]:
    """Train on snapshots up to the validation cutoff, test at the split cutoff.

    Training outcomes are observed only up to the split cutoff and test outcomes from the
    cutoff to the end of the test window, so nothing after a snapshot leaks into its
    features and the test window is never used to fit. Rows: model x segment ('all' and
    each segment of the cutoff's segment table).
    """
    p = params
    cutoff = pd.Timestamp(split["cutoff"])
    val_cut = cutoff - pd.Timedelta(days=int(split["validation_days"]))
    end = pd.Timestamp(split.get("test_end") or customer_lines["ts"].max())
    train = _snapshots(customer_lines, val_cut, cutoff, p)
    model = _fit(train, p)
    test = snapshot(customer_lines, cutoff, end, p["min_purchase_days"])
    within = int(p["within_days"])
    preds = {
        "aft": model.predict(test, within),
        "gradient_boosting": gradient_boosting_baseline(train, test, within, seed),
        "interval_heuristic": interval_heuristic(test, within),
    }
    seg = (
        segments.set_index("user_id")[params["segment_column"]]
        if len(segments)
        else pd.Series(dtype=str)
    )
    seg_of = test["user_id"].map(seg).fillna("unsegmented").to_numpy()
    rows = []
    for name, pred in preds.items():
        for segment in ["all", *sorted(set(seg_of))]:
            mask = np.ones(len(test), bool) if segment == "all" else seg_of == segment
            if mask.sum() < int(p["min_segment_customers"]):
                continue
            m = timing_metrics(
                test["days"].to_numpy()[mask],
                test["event"].to_numpy()[mask],
                pred["expected_days"].to_numpy()[mask],
                pred["p_buy_within"].to_numpy()[mask],
                within,
                elapsed_days=test["recency_days"].to_numpy(dtype=float)[mask],
            )
            rows.append({"model": name, "served": name == "aft", "segment": segment, **m})
    table = pd.DataFrame(rows)
    metrics: Metrics = {}
    for r in table[table["segment"] == "all"].to_dict("records"):
        for k in ("mae_uncensored", "c_index", "c_index_gap", f"auc_{within}d", "n", "n_events"):
            metrics[f"forecast/next_purchase/{r['model']}/{k}"] = {"value": float(r[k]), "step": 0}
    log.info("next purchase: %s", table[table["segment"] == "all"].to_dict("records"))
    return table, metrics


def predict_next_purchase(customer_lines: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Predictions as of the end of the data, from snapshots whose outcomes are known by then.

    Columns: user_id, expected_days, p_buy_30d, predicted_date (the contract), plus
    interval_days, recency_days and as_of.
    """
    p = params
    end = customer_lines["ts"].max()
    horizon = pd.Timedelta(days=int(p["serving_observation_days"]))
    model = _fit(_snapshots(customer_lines, end - horizon, end, p), p)
    now = snapshot(customer_lines, end, None, p["min_purchase_days"])
    pred = model.predict(now, int(p["within_days"]))
    pred["as_of"] = end
    pred["predicted_date"] = end.normalize() + pd.to_timedelta(pred["expected_days"], unit="D")
    pred = pred.rename(columns={"p_buy_within": f"p_buy_{int(p['within_days'])}d"})
    cols = [
        "user_id",
        "expected_days",
        f"p_buy_{int(p['within_days'])}d",
        "predicted_date",
        "interval_days",
        "recency_days",
        "as_of",
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
