"""Demand forecasting: candidates, rolling-origin validation, hold-out scoring, served choice.

Every candidate (tuned Prophet, the three baselines and their ensemble) is scored on the
same rolling-origin validation folds inside the training window and on the hold-out. The
served model of a target is the one with the lowest mean validation MASE; the hold-out is
only reported, never used to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tailor.forecasting.baselines import BASELINES, baseline_forecast
from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.metrics import forecast_metrics, weekly_naive_scale
from tailor.forecasting.prophet_model import prophet_forecast
from tailor.forecasting.series import check_length
from tailor.progress import progress

CANDIDATES = ("prophet", *BASELINES, "ensemble")


@dataclass(frozen=True)
class DemandSettings:
    horizon_days: int
    n_folds: int
    fold_step_days: int
    min_trading_days: int
    yearly_min_days: int
    interval_width: float
    uncertainty_samples: int
    ensemble_members: tuple[str, ...]

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> DemandSettings:
        return cls(
            horizon_days=int(p["horizon_days"]),
            n_folds=int(p["validation"]["n_folds"]),
            fold_step_days=int(p["validation"]["fold_step_days"]),
            min_trading_days=int(p["min_trading_days"]),
            yearly_min_days=int(p["prophet"]["yearly_min_days"]),
            interval_width=float(p["prophet"]["interval_width"]),
            uncertainty_samples=int(p["prophet"]["uncertainty_samples"]),
            ensemble_members=tuple(p["ensemble_members"]),
        )


def forecast_one(
    model: str,
    history: pd.DataFrame,
    dates: pd.DatetimeIndex,
    calendar: ShopCalendar,
    prophet_params: dict[str, Any],
    settings: DemandSettings,
    uncertainty: bool = True,
) -> pd.DataFrame:
    """One model's forecast (yhat, yhat_lower, yhat_upper) for ``dates``."""
    check_length(history, settings.min_trading_days)
    if model == "prophet":
        return prophet_forecast(
            history,
            dates,
            calendar,
            prophet_params,
            settings.yearly_min_days,
            settings.interval_width,
            settings.uncertainty_samples if uncertainty else 0,
        )
    if model in BASELINES:
        return baseline_forecast(
            model, history, dates, calendar, round(100 * settings.interval_width)
        )
    if model == "ensemble":
        parts = [
            forecast_one(m, history, dates, calendar, prophet_params, settings, uncertainty)
            for m in settings.ensemble_members
        ]
        return ensemble(parts)
    raise ValueError(f"unknown forecasting model {model!r}; known: {CANDIDATES}")


def ensemble(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The mean of the members' forecasts (and of their interval bounds)."""
    return sum(parts[1:], parts[0]) / len(parts)


def forecast_all(
    history: pd.DataFrame,
    dates: pd.DatetimeIndex,
    calendar: ShopCalendar,
    prophet_params: dict[str, Any],
    settings: DemandSettings,
    uncertainty: bool = True,
    models: tuple[str, ...] = CANDIDATES,
) -> dict[str, pd.DataFrame]:
    """The forecasts of ``models``; an ensemble reuses its members' fits (each fit once)."""
    needed = [m for m in CANDIDATES if m != "ensemble" and m in models]
    if "ensemble" in models:
        needed += [m for m in settings.ensemble_members if m not in needed]
    out = {
        m: forecast_one(m, history, dates, calendar, prophet_params, settings, uncertainty)
        for m in needed
    }
    if "ensemble" in models:
        out["ensemble"] = ensemble([out[m] for m in settings.ensemble_members])
    return {m: out[m] for m in CANDIDATES if m in models}


def rolling_origins(train_end: pd.Timestamp, settings: DemandSettings) -> list[pd.Timestamp]:
    """Fold origins inside the training window; fold i validates (origin, origin+horizon]."""
    last = train_end - pd.Timedelta(days=settings.horizon_days)
    return [last - pd.Timedelta(days=i * settings.fold_step_days) for i in range(settings.n_folds)][
        ::-1
    ]


def score(history: pd.DataFrame, future: pd.DataFrame, forecast: pd.DataFrame) -> dict[str, float]:
    """Forecast metrics on ``future``'s trading days, MASE scaled on ``history``."""
    scale = weekly_naive_scale(history["y"], history["trading"])
    return forecast_metrics(
        future["y"].reset_index(drop=True),
        forecast["yhat"].reset_index(drop=True),
        future["trading"].reset_index(drop=True),
        scale,
    )


def split_at(series: pd.DataFrame, origin: pd.Timestamp, horizon_days: int | None = None):
    """(history <= origin, the following ``horizon_days`` days or everything after)."""
    history = series[series["date"] <= origin]
    future = series[series["date"] > origin]
    if horizon_days is not None:
        future = future[future["date"] <= origin + pd.Timedelta(days=horizon_days)]
    return history.reset_index(drop=True), future.reset_index(drop=True)


def validate(
    train: pd.DataFrame,
    calendar: ShopCalendar,
    prophet_params: dict[str, Any],
    settings: DemandSettings,
    models: tuple[str, ...] = CANDIDATES,
) -> pd.DataFrame:
    """Per-fold metrics of each model on the rolling-origin folds of ``train``."""
    rows = []
    origins = progress(
        rolling_origins(train["date"].max(), settings), "forecast folds", unit="fold"
    )
    for fold, origin in enumerate(origins):
        history, future = split_at(train, origin, settings.horizon_days)
        dates = pd.DatetimeIndex(future["date"])
        fcs = forecast_all(history, dates, calendar, prophet_params, settings, False, models)
        for model, fc in fcs.items():
            rows.append(
                {"fold": fold, "origin": origin, "model": model, **score(history, future, fc)}
            )
    return pd.DataFrame(rows)


def choose_served(validation: pd.DataFrame, metric: str = "mase") -> str:
    """The model with the lowest mean validation ``metric`` (ties: candidate order)."""
    means = validation.groupby("model")[metric].mean()
    order = [m for m in CANDIDATES if m in means.index]
    return str(min(order, key=lambda m: (means[m], order.index(m))))


def long_forecast(fcs: dict[str, pd.DataFrame], future: pd.DataFrame, **keys: str) -> pd.DataFrame:
    """Forecasts in long form with the actuals: one row per (model, date)."""
    frames = []
    for model, fc in fcs.items():
        f = fc.reset_index(names="date").assign(model=model, **keys)
        if future is not None:
            f["y"] = future["y"].to_numpy()
            f["trading"] = future["trading"].to_numpy()
        frames.append(f)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
