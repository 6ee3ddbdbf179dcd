"""Prophet fitted on trading days only, with the shop's holidays; closed days forecast 0."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from cmdstanpy.utils.logging import get_logger as get_cmdstan_logger
from prophet import Prophet

from tailor.forecasting.calendar import ShopCalendar

# cmdstanpy installs its own INFO handler on first use; take it now and quieten it. Its
# ERROR "Chain [1] error" lines duplicate Prophet's own warning when the optimizer falls
# back to Newton (it happens for extreme trial parameters), so only CRITICAL passes.
get_cmdstan_logger().setLevel(logging.CRITICAL)
logging.getLogger("prophet").setLevel(logging.WARNING)


def prophet_forecast(
    history: pd.DataFrame,
    dates: pd.DatetimeIndex,
    calendar: ShopCalendar,
    params: dict[str, Any],
    yearly: bool,
    interval_width: float,
    uncertainty_samples: int,
) -> pd.DataFrame:
    """Fit on the trading days of ``history`` and forecast ``dates``.

    Closed days are left out of the fit (Prophet handles gaps), so zeros never drag the
    level or the weekly pattern down; holidays on which the shop closed are not modelled
    (they have no data) and are forecast 0 with every other closed day. The yearly term
    (Fourier order ``params["yearly_order"]``, 0 = none) is used only with ``yearly`` (the
    history holds the forecast's window a year earlier). The other ``params`` are Prophet
    keyword arguments (the tuned ones); absent ones keep Prophet's own defaults.
    """
    params = dict(params)
    order = int(params.pop("yearly_order", 10))
    fit = history[history["trading"].to_numpy(dtype=bool)]
    all_dates = pd.DatetimeIndex(fit["date"]).append(dates)
    hol = calendar.prophet_holidays(all_dates)
    hol = hol[~hol["holiday"].isin(list(calendar.closed_holidays))]
    model = Prophet(
        **params,  # tuned keys (conf: forecasting.demand.tuning.space); the rest Prophet's own
        weekly_seasonality=True,
        yearly_seasonality=order if yearly and order > 0 else False,
        daily_seasonality=False,
        holidays=hol if len(hol) else None,
        interval_width=interval_width,
        uncertainty_samples=uncertainty_samples,
    )
    model.fit(pd.DataFrame({"ds": fit["date"], "y": fit["y"]}))
    pred = model.predict(pd.DataFrame({"ds": dates}))
    out = pd.DataFrame(index=dates)
    out["yhat"] = pred["yhat"].to_numpy()
    has_interval = "yhat_lower" in pred
    out["yhat_lower"] = pred["yhat_lower"].to_numpy() if has_interval else out["yhat"]
    out["yhat_upper"] = pred["yhat_upper"].to_numpy() if has_interval else out["yhat"]
    out.loc[~calendar.is_open(dates).to_numpy()] = 0.0
    return out.clip(lower=0.0)
