"""The year-ago model (``yearly_naive``): last year's same weeks, scaled to this year's level.

A shop that sells most in one season repeats that season's shape every year more reliably
than any weekly model can extrapolate it from the months before. The forecast for day t is
the mean of the same weekday 52 weeks earlier and the weeks either side of it (one noisy
day is not a season), times the ratio of the last ``level_days`` days' mean to the same days'
mean a year earlier (the shop grew or shrank). Where the history does not hold the horizon's
window a year earlier there is no year to copy, and the forecast is the weekly seasonal naive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailor.forecasting.baselines import baseline_forecast
from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.windows import DAY, YEAR_DAYS, season_seen

NEIGHBOUR_WEEKS = (-1, 0, 1)


def first_trading_day(history: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(history.loc[history["trading"].astype(bool), "date"].min())


def uses_year(history: pd.DataFrame, dates: pd.DatetimeIndex) -> bool:
    """Whether a forecast of ``dates`` from ``history`` can use last year's same weeks."""
    return len(dates) > 0 and season_seen(first_trading_day(history), dates.min())


def level_ratio(y: pd.Series, last: pd.Timestamp, level_days: int) -> float:
    """Mean of the last ``level_days`` trading days over the same days' mean a year earlier
    (1 when either is empty or zero)."""
    start = last - (level_days - 1) * DAY
    now = y[start:last].mean()
    before = y[start - YEAR_DAYS * DAY : last - YEAR_DAYS * DAY].mean()
    if not (np.isfinite(now) and np.isfinite(before)) or before <= 0:
        return 1.0
    return float(now / before)


def year_ago(y: pd.Series, t: pd.Timestamp) -> float:
    """Mean of ``y`` on the same weekday 52 weeks before ``t`` and the weeks either side
    (NaN where all three were closed)."""
    vals = np.array([y.get(t - (YEAR_DAYS + 7 * k) * DAY, np.nan) for k in NEIGHBOUR_WEEKS])
    vals = vals.astype(float)
    return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


def yearly_naive_forecast(
    history: pd.DataFrame,
    dates: pd.DatetimeIndex,
    calendar: ShopCalendar,
    level_days: int,
    level: int,
) -> pd.DataFrame:
    """yhat for ``dates`` (the days after ``history``); the interval is the point (no own
    interval: the served one is the conformal interval from the validation folds)."""
    if not uses_year(history, dates):
        return baseline_forecast("seasonal_naive", history, dates, calendar, level)
    h = history.set_index(pd.DatetimeIndex(history["date"]))
    y = h["y"].where(h["trading"].astype(bool))  # closed days are no demand to copy
    ratio = level_ratio(y, h.index.max(), level_days)
    ago = np.array([year_ago(y, t) for t in dates], dtype=float)
    yhat = pd.Series(ago * ratio, index=dates)
    if yhat.isna().any():  # open now, closed all three weeks a year ago: the weekly naive
        weekly = baseline_forecast("seasonal_naive", history, dates, calendar, level)["yhat"]
        yhat = yhat.fillna(weekly)
    out = pd.DataFrame({"yhat": yhat, "yhat_lower": yhat, "yhat_upper": yhat}, index=dates)
    out.loc[~calendar.is_open(dates).to_numpy()] = 0.0
    return out.clip(lower=0.0)
