"""Closed days, too-short series and the served-model choice, on small hand-made series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.forecasting.calendar import learn_calendar
from tailor.forecasting.demand import (
    DemandSettings,
    choose_served,
    forecast_one,
    validation_forecasts,
)
from tailor.forecasting.series import SeriesTooShortError, segment_series
from tailor.forecasting.windows import Windows

SETTINGS = DemandSettings(
    horizon_days=14,
    n_folds=2,
    fold_step_days=14,
    min_trading_days=28,
    yoy_level_days=56,
    interval_width=0.8,
    interval_tolerance=0.05,
    uncertainty_samples=0,
    ensemble_members=("prophet", "autoets", "autoarima", "theta", "mstl"),
    recency_decay=0.75,
    fold_weights=(0.75, 1.0),
    season_seen=False,
)


def windows_before(end: pd.Timestamp, n_folds: int = 2, step: int = 14) -> Windows:
    """Folds of SETTINGS' horizon whose last one ends on ``end`` (the hold-out follows)."""
    start = end + pd.Timedelta(days=1)
    return Windows(start, start + pd.Timedelta(days=13), 14, n_folds, step)


def shop(days: int = 150, start: str = "2011-01-03", level: float = 100.0) -> pd.DataFrame:
    """A shop closed on Saturdays and on Good Friday; demand 100 + weekday effect + noise."""
    dates = pd.date_range(start, periods=days, freq="D")
    rng = np.random.default_rng(0)
    y = level + 10 * (dates.dayofweek == 1) + rng.normal(0, 3, days)
    trading = (dates.dayofweek != 5) & (dates != pd.Timestamp("2011-04-22"))
    return pd.DataFrame({"date": dates, "y": np.where(trading, y, 0.0), "trading": trading})


def test_calendar_learns_closed_weekdays_and_holidays() -> None:
    daily = shop().assign(orders=lambda d: d["y"])
    cal = learn_calendar(daily, "UK", 0.5, [["12-24", "01-03"]])
    assert cal.closed_weekdays == frozenset({5})
    assert "Good Friday" in cal.closed_holidays
    # Easter Monday 2011 is a trading day in the history: it stays open
    assert "Easter Monday" not in cal.closed_holidays
    future = pd.DatetimeIndex(
        ["2012-04-06", "2012-04-07", "2012-04-09", "2012-12-27", "2012-01-04"]
    )
    assert cal.is_open(future).tolist() == [False, False, True, False, True]


@pytest.mark.parametrize(
    "model", ["prophet", "seasonal_naive", "autoets", "autoarima", "theta", "mstl"]
)
def test_closed_days_are_forecast_zero_and_do_not_drag_the_level(model: str) -> None:
    series = shop()
    cal = learn_calendar(series, "UK", 0.5)
    history, future = series.iloc[:-14], series.iloc[-14:]
    fc = forecast_one(model, history, pd.DatetimeIndex(future["date"]), cal, {}, SETTINGS)
    saturdays = fc.index.dayofweek == 5
    assert (fc.loc[saturdays] == 0).all().all()
    # had the Saturday zeros been fitted as demand, weekdays would sit near 6/7 of the level
    weekdays = fc.loc[~saturdays & (fc.index.dayofweek != 1), "yhat"]
    assert abs(weekdays.mean() - 100) < 6, weekdays.mean()


def test_too_short_series_raises_a_clear_error() -> None:
    series = shop(days=30)
    cal = learn_calendar(series, "UK", 0.5)
    dates = pd.date_range(series["date"].max() + pd.Timedelta(days=1), periods=7)
    with pytest.raises(SeriesTooShortError, match="min_trading_days"):
        forecast_one("prophet", series, dates, cal, {}, SETTINGS)


def test_served_model_is_chosen_on_validation_folds_only() -> None:
    # a series with a strong weekly pattern: the seasonal models must beat a flat Prophet
    series = shop(days=120)
    series.loc[series["trading"], "y"] += 40 * (series["date"].dt.dayofweek == 3)
    cal = learn_calendar(series, "UK", 0.5)
    flat = {"growth": "flat", "seasonality_prior_scale": 0.001}
    w = windows_before(series["date"].max())
    _, folds = validation_forecasts(series, cal, flat, SETTINGS, w, uncertainty=False)
    assert set(folds["fold"]) == {0, 1}
    assert folds["origin"].max() <= series["date"].max() - pd.Timedelta(days=14)
    served = choose_served(folds, SETTINGS.fold_weights)
    assert served != "prophet"  # the flat Prophet cannot follow the weekly pattern
    assert (folds[folds["model"] == served]["mase"] < 1.0).all()


def test_segment_series_use_the_shop_calendar_and_skip_anonymous_lines() -> None:
    daily = pd.DataFrame(
        {
            "date": pd.date_range("2011-01-01", periods=3),
            "orders": [2, 0, 1],
            "revenue": [5.0, 0.0, 3.0],
            "trading": [True, False, True],
        }
    )
    lines = pd.DataFrame(
        {
            "user_id": ["a", None, "b"],
            "order_id": ["1", "2", "3"],
            "ts": pd.to_datetime(["2011-01-01 10:00", "2011-01-01 11:00", "2011-01-03 09:00"]),
            "quantity": [1, 2, 3],
            "unit_price": [2.0, 1.5, 1.0],
        }
    )
    segments = pd.DataFrame({"user_id": ["a", "b"], "rule_segment": ["x", "x"]})
    out = segment_series(lines, segments, "rule_segment", daily)
    assert out[("x", "orders")]["y"].tolist() == [1.0, 0.0, 1.0]
    assert out[("x", "revenue")]["y"].tolist() == [2.0, 0.0, 3.0]
    assert out[("x", "orders")]["trading"].tolist() == [True, False, True]
