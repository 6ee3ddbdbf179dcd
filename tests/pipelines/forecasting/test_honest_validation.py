"""Rules that keep validation honest: nested Prophet parameters, symmetric recency-weighted
conformal intervals, a partial last day left out."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tailor.forecasting.demand import DemandSettings, calibration
from tailor.forecasting.tuning import nested_params
from tailor.forecasting.windows import Windows, last_complete_day, plan_windows

BASE = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_forecasting.yml"
DEFAULTS = yaml.safe_load(BASE.read_text())["forecasting"]["demand"]


def settings(n_folds: int) -> DemandSettings:
    w = Windows(pd.Timestamp("2000-01-01"), pd.Timestamp("2000-01-01"), 14, n_folds, 14)
    return DemandSettings.from_params(DEFAULTS, w)


def test_prophet_parameters_of_a_fold_never_come_from_that_fold() -> None:
    """Trial A wins only the newest fold and so has the best overall (recency-weighted)
    score; the nested parameters for that fold are chosen on the earlier folds, where B
    leads, so A's luck on the fold cannot raise Prophet's validation score there."""
    a = ({"changepoint_prior_scale": 0.5}, [1.0, 1.0, 0.1])
    b = ({"changepoint_prior_scale": 0.01}, [0.5, 0.5, 1.0])
    defaults = {"changepoint_prior_scale": 0.05}
    w = np.array([0.75**2, 0.75, 1.0])
    assert np.average(a[1], weights=w) < np.average(b[1], weights=w)  # A is best overall
    folds = nested_params([a, b], defaults, fold_weights=tuple(w))
    assert folds == [defaults, b[0], b[0]]
    # once A also leads on earlier folds it is used for the later ones
    a2 = ({"changepoint_prior_scale": 0.5}, [0.1, 1.0, 0.1])
    assert nested_params([a2, b], defaults, tuple(w))[1] == a2[0]


def _folds(errors: list[np.ndarray]) -> pd.DataFrame:
    frames = []
    for fold, e in enumerate(errors):
        n = len(e)
        frames.append(
            pd.DataFrame(
                {
                    "model": "m",
                    "fold": fold,
                    "yhat": 100.0,
                    "y": 100.0 + e,
                    "yhat_lower": 100.0,  # own interval far too narrow: conformal is used
                    "yhat_upper": 100.0 + 0 * np.arange(n),
                    "trading": True,
                    "scale": 1.0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_conformal_interval_still_covers_after_the_error_changes_sign() -> None:
    """Older folds over-forecast, the newest under-forecasts (a level turn), the next window
    continues the newest. Signed quantiles of the pooled residuals put the interval under
    the forecast and miss; the symmetric interval covers close to 80 %."""
    rng = np.random.default_rng(3)
    n = 300
    errors = [rng.normal(-8, 2, n) for _ in range(5)] + [rng.normal(8, 2, n)]
    cal = calibration(_folds(errors), "m", settings(6))
    assert cal["method"] == "conformal" and cal["q_lo"] == -cal["q_hi"]
    nxt = rng.normal(8, 2, 5000)
    covered = np.mean((nxt >= cal["q_lo"]) & (nxt <= cal["q_hi"]))
    assert 0.7 <= covered <= 0.9
    lo, hi = np.quantile(np.concatenate(errors), [0.1, 0.9])  # the signed rule
    assert np.mean((nxt >= lo) & (nxt <= hi)) < 0.5


def test_conformal_width_follows_the_newest_folds() -> None:
    """Five calm folds, then a volatile newest one: recency weights (newest 1, x0.75 per
    fold back) give it 30 % of the weight, enough to set the 80 % quantile; unweighted it
    would hold 1/6 and the interval would keep the calm width."""
    rng = np.random.default_rng(4)
    n = 200
    errors = [rng.normal(0, 1, n) for _ in range(5)] + [rng.normal(0, 10, n)]
    cal = calibration(_folds(errors), "m", settings(6))
    calm = np.quantile(np.abs(np.concatenate(errors[:5])), 0.8)
    assert np.quantile(np.abs(np.concatenate(errors)), 0.8) < 2 * calm  # unweighted: calm
    assert cal["q_hi"] > 3 * calm


def _lines(days: int, last_hour: float, midnight: bool = False) -> pd.Series:
    """Line timestamps: each day from 9:00 to 17:00, the last day stopping at last_hour."""
    out = []
    for d in pd.date_range("2024-01-01", periods=days, freq="D"):
        stop = last_hour if d == pd.Timestamp("2024-01-01") + pd.Timedelta(days=days - 1) else 17
        hours = [0.0] if midnight else np.linspace(9, stop, 20)
        out += [d + pd.Timedelta(hours=float(h)) for h in hours]
    return pd.Series(out)


def test_a_last_day_cut_mid_day_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    end = pd.Timestamp("2024-01-01") + pd.Timedelta(days=199)
    day, why = last_complete_day(_lines(200, 12.0), 0.05)
    assert day == end - pd.Timedelta(days=1)
    assert why and "partial_day_quantile" in why and str(end.date()) in why
    # a full last day, or dates without a time of day, are kept
    assert last_complete_day(_lines(200, 17.0), 0.05) == (end, None)
    assert last_complete_day(_lines(200, 0.0, midnight=True), 0.05) == (end, None)
    # the windows: hold-out and data end stop the day before the partial day
    dates = pd.date_range("2024-01-01", periods=200, freq="D")
    daily = pd.DataFrame({"date": dates, "y": 1.0, "trading": True})
    with caplog.at_level(logging.WARNING):
        w = plan_windows(daily, DEFAULTS, _lines(200, 12.0))
    assert w.holdout_end == w.data_end == end - pd.Timedelta(days=1)
    assert "partial day" in caplog.text and any("partial" in x for x in w.warnings)
    assert Windows.from_dict(w.as_dict()) == w
    assert plan_windows(daily, DEFAULTS, _lines(200, 17.0)).holdout_end == end


def test_own_interval_kept_when_conformal_would_cover_worse_out_of_sample() -> None:
    """Errors grow fold by fold. The own interval fits the newest fold and over-covers the
    older ones (outside 80 % ± 5 % overall, so a tolerance rule would replace it); conformal
    from the earlier folds is always calibrated to calmer data and under-covers the next
    one. Compared out of sample, the own interval is closer to 80 % and is kept."""
    rng = np.random.default_rng(5)
    n = 400
    sigmas = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    frame = _folds([rng.normal(0, s, n) for s in sigmas])
    half = 1.2816 * sigmas[-1]  # the newest fold's 80 % interval
    frame = frame.assign(yhat_lower=100 - half, yhat_upper=100 + half)
    cal = calibration(frame, "m", settings(6))
    assert abs(cal["val_coverage_own"] - 0.8) > DEFAULTS["interval"]["tolerance"]
    assert abs(cal["val_coverage_conformal_later"] - 0.8) > abs(cal["val_coverage_own_later"] - 0.8)
    assert cal["val_coverage_conformal_later"] < 0.75
    assert cal["method"] == "own"
