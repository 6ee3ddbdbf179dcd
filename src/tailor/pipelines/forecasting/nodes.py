"""Demand nodes of the forecasting pipeline: thin wrappers over ``tailor.forecasting``."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from tailor.forecasting.calendar import ShopCalendar, learn_calendar
from tailor.forecasting.demand import (
    CANDIDATES,
    DemandSettings,
    calibration,
    forecast_models,
    inverse_error_weights,
    long_forecast,
    members_of,
    score,
    selection_table,
    split_at,
    validation_forecasts,
)
from tailor.forecasting.plots import forecast_figure
from tailor.forecasting.report import forecast_markdown
from tailor.forecasting.series import (
    TARGETS,
    SeriesTooShortError,
    overall_series,
    segment_series,
)
from tailor.forecasting.tuning import tune_prophet
from tailor.forecasting.windows import Windows, plan_windows
from tailor.forecasting.yearly import uses_year
from tailor.metric_keys import slug

log = logging.getLogger(__name__)
HOLDOUT_METRICS = ("mase", "mae", "bias", "smape", "coverage", "width")
COLUMNS = ["mae", "bias", "smape", "mase", "coverage", "width", "width_scaled", "n_days"]
Metrics = dict[str, dict[str, float]]
UNSEEN_NOTE = (
    "season not seen in training: no earlier year holds these weeks, "
    "so the interval is uncalibrated (no fold could check it)"
)


def plan_demand(
    daily_demand: pd.DataFrame, demand_lines: pd.DataFrame, params: dict[str, Any]
) -> dict[str, Any]:
    """Hold-out, horizon and folds fitted to the data (degraded with a warning if short);
    a partial last day (from the lines' time of day) is left out."""
    series = overall_series(daily_demand, "orders")
    return plan_windows(series, params, demand_lines["ts"]).as_dict()


def _calendar(daily: pd.DataFrame, params: dict[str, Any]) -> ShopCalendar:
    return learn_calendar(
        daily, params.get("country"), params["min_trading_share"], params.get("annual_closures")
    )


def _complete_days(daily_demand: pd.DataFrame, w: Windows) -> pd.DataFrame:
    """``daily_demand`` without the partial last day the windows dropped (if any)."""
    if w.data_end is None:
        return daily_demand
    return daily_demand[pd.to_datetime(daily_demand["date"]) <= w.data_end]


def _setup(daily_demand: pd.DataFrame, windows: dict[str, Any], params: dict[str, Any]):
    w = Windows.from_dict(windows)
    train_daily = daily_demand[pd.to_datetime(daily_demand["date"]) < w.holdout_start]
    return w, DemandSettings.from_params(params, w), _calendar(train_daily, params)


def _holdout_split(series: pd.DataFrame, w: Windows):
    train, rest = split_at(series, w.holdout_start - pd.Timedelta(days=1))
    return train, rest[rest["date"] <= w.holdout_end].reset_index(drop=True)


def tune_demand(
    daily_demand: pd.DataFrame, windows: dict[str, Any], params: dict[str, Any], seed: int
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Tune Prophet per overall target on the validation folds before the hold-out:
    ``{target: {"served": best parameters, "folds": nested per-fold parameters}}``."""
    w, settings, calendar = _setup(daily_demand, windows, params)
    best: dict[str, dict[str, Any]] = {}
    trials = []
    for target in TARGETS:
        train, _ = _holdout_split(overall_series(daily_demand, target), w)
        served, folds, t = tune_prophet(train, calendar, settings, w, params, seed, target)
        best[target] = {"served": served, "folds": folds}
        trials.append(t)
        log.info("prophet %s: best %s", target, served)
    return best, pd.concat(trials, ignore_index=True)


def _select_and_score(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    calendar: ShopCalendar,
    prophet_params: dict[str, Any],
    settings: DemandSettings,
    w: Windows,
    models: tuple[str, ...],
) -> tuple[list[dict], dict[str, pd.DataFrame], dict[str, Any]]:
    """Validation folds -> served model, ensemble weights, calibrations -> hold-out scores.

    ``prophet_params``: ``served`` (hold-out and serving) and the nested ``folds`` ones."""
    forecasts, scores = validation_forecasts(
        train,
        calendar,
        prophet_params["served"],
        settings,
        w,
        models,
        fold_params=prophet_params.get("folds"),
    )
    table = selection_table(scores, settings.fold_weights)
    members = members_of(models, settings)
    member_scores = scores[scores["model"].isin(members)]
    weights = inverse_error_weights(member_scores, members, settings.fold_weights)
    cals = {m: calibration(forecasts, m, settings) for m in table["model"]}
    fcs = forecast_models(
        train,
        pd.DatetimeIndex(holdout["date"]),
        calendar,
        prophet_params["served"],
        settings,
        tuple(table["model"]),
        weights,
        cals,
    )
    served = str(table.loc[table["served"], "model"].iloc[0])
    rows = []
    val_means = scores.groupby("model")[COLUMNS].mean()
    for r in table.itertuples(index=False):
        extra = {"weighted_rank": r.weighted_rank, "folds_won": r.folds_won}
        rows.append({"window": "validation", "model": r.model, **val_means.loc[r.model], **extra})
        interval = {
            "interval": cals[r.model]["method"],
            "interval_calibrated": bool(cals[r.model]["calibrated"]),
        }
        rows.append({"window": "holdout", "model": r.model, **score(train, holdout, fcs[r.model])})
        rows[-1] |= interval | extra
    selection = {
        "served": served,
        "weights": weights,
        "calibration": cals,
        "ranking": table.to_dict("records"),
    }
    flags = {"season_seen": w.season_seen}
    return [r | {"served": r["model"] == served} | flags for r in rows], fcs, selection


def evaluate_demand(
    daily_demand: pd.DataFrame,
    demand_lines: pd.DataFrame,
    segments: pd.DataFrame,
    prophet_params: dict[str, dict[str, Any]],
    windows: dict[str, Any],
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], Metrics, dict[str, str]]:
    """Validation and hold-out metrics of every candidate, overall and per segment.

    The same rule chooses the served model everywhere: overall on every candidate, per
    segment (segments as of the split cutoff, before the hold-out) on ``segment_models``.
    Segments too short to fit are skipped with a warning naming the parameter. The last
    output is the run's tags: whether the hold-out's season was in the training history
    (``forecast.season_seen``) and so whether any fold could check its interval
    (``forecast.interval``: calibrated or uncalibrated).
    """
    w, settings, calendar = _setup(daily_demand, windows, params)
    results: list[dict] = []
    forecasts: list[pd.DataFrame] = []
    selection: dict[str, Any] = {}
    series = {("all", t): overall_series(daily_demand, t) for t in TARGETS}
    series |= segment_series(demand_lines, segments, params["segment_column"], daily_demand)
    for (segment, target), s in series.items():
        train, holdout = _holdout_split(s, w)
        # seasonal naive is always eligible: served when nothing beats it on validation
        seg_models = tuple(dict.fromkeys(("seasonal_naive", *params["segment_models"])))
        models = CANDIDATES if segment == "all" else seg_models
        try:
            rows, fcs, sel = _select_and_score(
                train, holdout, calendar, prophet_params[target], settings, w, models
            )
        except SeriesTooShortError as err:
            log.warning("segment %s skipped: %s", segment, err)
            continue
        sel["yearly"] = uses_year(train, pd.DatetimeIndex(holdout["date"]))
        sel["season_seen"] = w.season_seen
        selection[f"{target}|{segment}"] = sel
        results += [{"target": target, "segment": segment, **r} for r in rows]
        forecasts.append(long_forecast(fcs, holdout, target=target, segment=segment))
        log.info(
            "%s/%s: served %s (%s interval)",
            target,
            segment,
            sel["served"],
            sel["calibration"][sel["served"]]["method"],
        )
    table = pd.DataFrame(results)
    cols = ["target", "segment", "window", "model", "served", *COLUMNS]
    table = table[
        [*cols, "interval", "interval_calibrated", "season_seen", "weighted_rank", "folds_won"]
    ]
    tags = {
        "forecast.season_seen": str(w.season_seen).lower(),
        "forecast.interval": "calibrated" if w.season_seen else "uncalibrated",
    }
    return table, pd.concat(forecasts, ignore_index=True), selection, _metrics(table), tags


def metric_target(target: str, segment: str) -> str:
    return target if segment == "all" else f"{target}_seg_{slug(segment)}"


def _metrics(results: pd.DataFrame) -> Metrics:
    """``forecast/<target>/<model>/holdout_<metric>``, ``.../val_mase`` on the folds, the
    served model's also under ``served`` (with ``interval_coverage`` and ``interval_width``)."""
    out: Metrics = {}

    def put(key: str, value: float) -> None:
        out[key] = {"value": float(value), "step": 0}

    for r in results.itertuples(index=False):
        t = metric_target(r.target, r.segment)
        overall = r.segment == "all"
        if r.window == "validation":
            put(f"forecast/{t}/{r.model}/val_mase", r.mase)
            if overall:
                put(f"forecast/{t}/{r.model}/val_weighted_rank", r.weighted_rank)
            continue
        for m in HOLDOUT_METRICS if overall else ("mase", "coverage"):
            put(f"forecast/{t}/{r.model}/holdout_{m}", getattr(r, m))
        if r.served:
            for m in HOLDOUT_METRICS:
                put(f"forecast/{t}/served/holdout_{m}", getattr(r, m))
            put(f"forecast/{t}/served/interval_coverage", r.coverage)
            put(f"forecast/{t}/served/interval_width", r.width)
    return out


def plot_demand(
    daily_demand: pd.DataFrame,
    holdout_forecasts: pd.DataFrame,
    results: pd.DataFrame,
    windows: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, Figure]:
    """One PNG per overall target: history, hold-out truth, all models, served interval."""
    start = Windows.from_dict(windows).holdout_start
    figures = {}
    for target in TARGETS:
        history = overall_series(daily_demand, target)
        history = history[history["date"] < start]
        part = holdout_forecasts[
            (holdout_forecasts["target"] == target) & (holdout_forecasts["segment"] == "all")
        ]
        rows = results[(results["target"] == target) & (results["segment"] == "all")]
        served = str(rows.loc[rows["served"], "model"].iloc[0])
        seen = bool(rows["season_seen"].iloc[0])
        figures[f"forecast_{target}.png"] = forecast_figure(
            history,
            part,
            served,
            f"Daily {target}: hold-out forecasts (served: {served})",
            int(params["plot_history_days"]),
            note=None if seen else UNSEEN_NOTE,
        )
    return figures


def forecast_demand(
    daily_demand: pd.DataFrame,
    demand_lines: pd.DataFrame,
    segments: pd.DataFrame,
    prophet_params: dict[str, dict[str, Any]],
    selection: dict[str, Any],
    windows: dict[str, Any],
    params: dict[str, Any],
) -> pd.DataFrame:
    """Each series' served model refitted on all the data: the next ``horizon_days`` days.

    Overall and per segment (segments as of the end of the data), each with the model,
    ensemble weights and interval calibration chosen for it on validation. Columns: target,
    segment, model, date, yhat, yhat_lower, yhat_upper, open, season_seen (the history holds
    these weeks a year earlier, and so did the validated hold-out's), interval_calibrated
    (a fold could check the interval on the season: false means it is a band no fold
    checked).
    """
    w = Windows.from_dict(windows)
    settings = DemandSettings.from_params(params, w)
    daily_demand = _complete_days(daily_demand, w)  # a partial last day is no origin
    calendar = _calendar(daily_demand, params)
    last = pd.to_datetime(daily_demand["date"]).max()
    dates = pd.date_range(last + pd.Timedelta(days=1), periods=settings.horizon_days, freq="D")
    series = {("all", t): overall_series(daily_demand, t) for t in TARGETS}
    series |= segment_series(demand_lines, segments, params["segment_column"], daily_demand)
    frames = []
    for (segment, target), history in series.items():
        sel = selection.get(f"{target}|{segment}")
        if sel is None:
            log.warning("segment %s (%s) has no validated model: not forecast", segment, target)
            continue
        model = sel["served"]
        try:
            fc = forecast_models(
                history,
                dates,
                calendar,
                prophet_params[target]["served"],
                settings,
                (model,),
                sel["weights"],
                sel["calibration"],
            )[model]
        except SeriesTooShortError as err:
            log.warning("segment %s skipped: %s", segment, err)
            continue
        seen = bool(sel.get("season_seen", False)) and uses_year(history, dates)
        calibrated = bool(sel["calibration"][model].get("calibrated", False)) and seen
        frames.append(
            fc.reset_index(names="date").assign(
                target=target,
                segment=segment,
                model=model,
                season_seen=seen,
                interval_calibrated=calibrated,
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["open"] = calendar.is_open(pd.DatetimeIndex(out["date"])).to_numpy()
    cols = ["target", "segment", "model", "date", "yhat", "yhat_lower", "yhat_upper", "open"]
    return out[[*cols, "season_seen", "interval_calibrated"]]


def write_forecast_report(
    results: pd.DataFrame, windows: dict[str, Any], next_purchase: pd.DataFrame
) -> str:
    """The forecasting report page (served model, baselines, whether the season was seen)."""
    return forecast_markdown(results, windows, next_purchase)
