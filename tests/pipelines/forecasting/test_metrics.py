"""Forecast and timing metrics on hand-computed examples (censoring included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.forecasting.metrics import forecast_metrics, timing_metrics, weekly_naive_scale


def test_forecast_metrics_score_trading_days_only() -> None:
    actual = pd.Series([10.0, 0.0, 20.0, 30.0])
    forecast = pd.Series([12.0, 50.0, 15.0, 30.0])
    trading = pd.Series([True, False, True, True])
    m = forecast_metrics(actual, forecast, trading, scale=2.0)
    assert m["mae"] == pytest.approx((2 + 5 + 0) / 3)
    assert m["bias"] == pytest.approx((2 - 5 + 0) / 3)
    assert m["smape"] == pytest.approx(100 * (4 / 22 + 10 / 35 + 0) / 3)
    assert m["mase"] == pytest.approx(7 / 3 / 2.0)
    assert m["n_days"] == 3


def test_weekly_naive_scale_skips_pairs_with_a_closed_day() -> None:
    y = pd.Series([10.0, 0, 0, 0, 0, 0, 0, 14.0, 5.0])
    trading = pd.Series([True, False, True, True, True, True, True, True, True])
    # pairs (0, 7): |14-10| = 4 counted; (1, 8): day 1 closed, skipped
    assert weekly_naive_scale(y, trading) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        weekly_naive_scale(y.iloc[:7], trading.iloc[:7])


def test_timing_metrics_handle_censoring_by_hand() -> None:
    # days from the as-of date; censored rows are lower bounds (no purchase in the window)
    observed = np.array([5.0, 10.0, 30.0, 40.0, 20.0])
    event = np.array([True, True, False, False, False])
    predicted = np.array([6.0, 8.0, 50.0, 7.0, 3.0])
    p30 = np.array([0.9, 0.8, 0.1, 0.6, 0.95])
    m = timing_metrics(observed, event, predicted, p30, 30)
    # MAE over the two observed purchases only
    assert m["mae_uncensored"] == pytest.approx((1 + 2) / 2)
    # comparable pairs: the shorter time must be an event -> (0,1) (0,2) (0,3) (0,4) (1,2)
    # (1,3) (1,4); concordant: (0,1) (0,2) (0,3) (1,2); (1,3) 8>7 and (0,4) 6>3, (1,4) 8>3
    # are discordant -> 4/7
    assert m["c_index"] == pytest.approx(4 / 7)
    # AUC: row 4 (censored after 20 < 30 days) has an unknown label and is left out;
    # positives {0: .9, 1: .8} vs negatives {2: .1, 3: .6} -> every pair ordered -> 1.0
    assert m["auc_30d"] == pytest.approx(1.0)
    assert m["n_events"] == 2


def test_gap_concordance_adds_the_elapsed_days() -> None:
    observed = np.array([5.0, 10.0])
    event = np.array([True, True])
    elapsed = np.array([20.0, 0.0])
    # from the as-of date the order is right (5 < 10), on the whole gap it is not (25 > 10)
    m = timing_metrics(observed, event, np.array([5.0, 10.0]), np.array([0.5, 0.4]), 30, elapsed)
    assert m["c_index"] == 1.0 and m["c_index_gap"] == 1.0
    m = timing_metrics(observed, event, np.array([1.0, 30.0]), np.array([0.5, 0.4]), 30, elapsed)
    assert m["c_index"] == 1.0 and m["c_index_gap"] == 0.0


def test_segment_names_become_one_metric_key_spelling() -> None:
    from tailor.metric_keys import slug

    assert slug("High-Value Loyalists") == "high_value_loyalists"
    assert slug("At Risk / Lapsing") == "at_risk_lapsing"
    assert slug(" -- ") == "none"
