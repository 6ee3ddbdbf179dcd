"""statsforecast models on the trading-weekday series: seasonal naive, AutoETS, AutoARIMA,
Theta and MSTL.

statsforecast models need a regular series, so closed weekdays (Saturdays on the default
data) are removed, leaving a season of the remaining weekdays (6), and irregular closures on
open weekdays (holidays, a Christmas break) are imputed with the same weekday's previous
trading value. Forecasts are mapped back to calendar days; closed days get 0. MSTL gets a
yearly season only with ``yearly`` (the history holds the forecast's window a year earlier);
otherwise weekly only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

from tailor.forecasting.calendar import ShopCalendar

STATS_MODELS = ("seasonal_naive", "autoets", "autoarima", "theta", "mstl")


def open_weekday_series(history: pd.DataFrame, calendar: ShopCalendar) -> pd.Series:
    """The history on regular trading weekdays, irregular closures imputed."""
    h = history[~pd.DatetimeIndex(history["date"]).dayofweek.isin(list(calendar.closed_weekdays))]
    y = h["y"].where(h["trading"].to_numpy(dtype=bool))
    weekday = pd.DatetimeIndex(h["date"]).dayofweek
    y = y.groupby(weekday).transform(lambda s: s.ffill().bfill())
    return pd.Series(y.fillna(0.0).to_numpy(dtype=float), index=pd.DatetimeIndex(h["date"]))


def _model(name: str, season: int, yearly: bool):
    if name == "seasonal_naive":
        return SeasonalNaive(season_length=season)
    if name == "autoets":
        return AutoETS(season_length=season, model="ZZZ")
    if name == "autoarima":
        return AutoARIMA(season_length=season)
    if name == "theta":  # additive: segment series can hold zeros
        return AutoTheta(season_length=season, decomposition_type="additive")
    if name == "mstl":
        return MSTL(season_length=[season, season * 52] if yearly else [season])
    raise ValueError(f"unknown statsforecast model {name!r}; known: {STATS_MODELS}")


def baseline_forecast(
    model: str,
    history: pd.DataFrame,
    dates: pd.DatetimeIndex,
    calendar: ShopCalendar,
    level: int,
    yearly: bool = False,
) -> pd.DataFrame:
    """Forecast ``dates`` (the days right after ``history``) with one statsforecast model."""
    season = 7 - len(calendar.closed_weekdays)
    y = open_weekday_series(history, calendar)
    regular = ~pd.Series(dates.dayofweek.isin(list(calendar.closed_weekdays)), index=dates)
    h = int(regular.sum())
    fc = _model(model, season, yearly).forecast(y=y.to_numpy(), h=h, level=[level])
    out = pd.DataFrame(0.0, index=dates, columns=["yhat", "yhat_lower", "yhat_upper"])
    on = regular.to_numpy()
    out.loc[on, "yhat"] = np.asarray(fc["mean"], dtype=float)
    out.loc[on, "yhat_lower"] = np.asarray(fc[f"lo-{level}"], dtype=float)
    out.loc[on, "yhat_upper"] = np.asarray(fc[f"hi-{level}"], dtype=float)
    out.loc[~calendar.is_open(dates).to_numpy()] = 0.0
    return out.clip(lower=0.0).fillna(0.0)
