"""The season ahead: a shop with two years and a year-end peak forecasts the peak from last
year's; the same shop cut to one year says the season was not seen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tailor.forecasting.report import forecast_markdown
from tailor.pipelines.forecasting.nodes import (
    UNSEEN_NOTE,
    evaluate_demand,
    forecast_demand,
    plan_demand,
)

BASE = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_forecasting.yml"
BASE_PARAMS = yaml.safe_load(BASE.read_text())["forecasting"]["demand"]
# base's rules on a smaller budget (three recent folds, Prophet without sampled intervals):
# the test is the selection and the season flag, bench/ measures quality on real data
PARAMS = {
    **BASE_PARAMS,
    "validation": {**BASE_PARAMS["validation"], "n_folds": 3},
    "prophet": {**BASE_PARAMS["prophet"], "uncertainty_samples": 0},
}
NO_TUNING = {"served": {}, "folds": None}  # Prophet's defaults


def peak_shop(start: str, end: str, seed: int = 0) -> pd.DataFrame:
    """Daily orders and revenue: closed on Saturdays, a weekday pattern, and a year-end peak
    (late November, more than doubling demand) that builds from September, every year, as a
    gift shop's does."""
    dates = pd.date_range(start, end, freq="D")
    rng = np.random.default_rng(seed)
    doy = dates.dayofyear.to_numpy()
    peak = np.exp(-(((doy - 330) / 50.0) ** 2))  # late November, building from September
    weekday = np.array([1.0, 1.2, 1.1, 1.3, 0.9, 0.0, 0.6])[dates.dayofweek]
    level = 100 * (1 + 1.2 * peak) * weekday
    orders = np.round(level * rng.lognormal(0, 0.08, len(dates)))
    trading = dates.dayofweek != 5
    orders = np.where(trading, orders, 0.0)
    return pd.DataFrame(
        {
            "date": dates,
            "orders": orders,
            "revenue": orders * 20 * rng.lognormal(0, 0.05, len(dates)),
            "trading": trading,
        }
    )


def run(daily: pd.DataFrame):
    lines = pd.DataFrame(
        {
            "ts": pd.to_datetime(daily["date"]) + pd.Timedelta(hours=17),
            "user_id": None,
            "order_id": "x",
            "quantity": 1.0,
            "unit_price": 1.0,
        }
    )
    segments = pd.DataFrame({"user_id": pd.Series([], dtype=str), "rule_segment": []})
    windows = plan_demand(daily, lines, PARAMS)
    prophet = {"orders": NO_TUNING, "revenue": NO_TUNING}
    results, _, selection, metrics, tags = evaluate_demand(
        daily, lines, segments, prophet, windows, PARAMS
    )
    forecast = forecast_demand(daily, lines, segments, prophet, selection, windows, PARAMS)
    return windows, results, metrics, tags, forecast


@pytest.fixture(scope="module")
def two_years():
    return run(peak_shop("2020-11-02", "2022-12-16"))


@pytest.mark.e2e
def test_two_years_forecast_the_peak_better_than_seasonal_naive(two_years) -> None:
    windows, results, metrics, tags, forecast = two_years
    assert windows["season_seen"] and len(windows["seasonal_origins"]) == 1
    hold = results[(results["window"] == "holdout") & (results["segment"] == "all")]
    for target in ("orders", "revenue"):
        part = hold[hold["target"] == target].set_index("model")
        served = part[part["served"]].iloc[0]
        naive = part.loc["seasonal_naive"]
        # the hold-out is the ramp to the peak: the weekly naive lags it
        assert naive["bias"] < 0
        assert served["mase"] < naive["mase"], part[["mase", "bias"]]
        # and so does every model that cannot use last year: the served one is below all of
        # them (without the year's models and folds it is one of them, or their blend)
        weekly = part.loc[["seasonal_naive", "autoets", "autoarima", "theta"], "mase"]
        assert served["mase"] < weekly.min(), part[["mase", "bias"]]
        assert metrics[f"forecast/{target}/served/holdout_mase"]["value"] == served["mase"]
    assert tags == {"forecast.season_seen": "true", "forecast.interval": "calibrated"}
    assert hold["season_seen"].all() and hold["interval_calibrated"].all()
    assert forecast["season_seen"].all() and forecast["interval_calibrated"].all()


@pytest.mark.e2e
def test_one_year_carries_the_unseen_season_flag() -> None:
    windows, results, _, tags, forecast = run(peak_shop("2021-12-06", "2022-12-16"))
    assert not windows["season_seen"] and windows["seasonal_origins"] == []
    assert any("season_seen = false" in w for w in windows["warnings"])
    assert tags == {"forecast.season_seen": "false", "forecast.interval": "uncalibrated"}
    assert not results["season_seen"].any() and not results["interval_calibrated"].any()
    assert not forecast["season_seen"].any() and not forecast["interval_calibrated"].any()
    page = forecast_markdown(results, windows)
    assert "Season not seen in training" in page and "uncalibrated" in page
    assert "Interval: calibrated" not in page
    assert "uncalibrated" in UNSEEN_NOTE
