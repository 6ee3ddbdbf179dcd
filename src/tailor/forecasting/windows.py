"""The demand windows (hold-out, validation folds, horizon) derived from the data's own span.

``holdout_start``/``holdout_end`` null (the default) mean "the last ``horizon_days`` days of
the data". Validation folds forecast ``horizon_days`` ahead like the real forecast; the last
one ends the day before the hold-out and each earlier one starts ``fold_step_days`` earlier.
Where the data is too short for the configured horizon or folds, the plan degrades (shorter
horizon, then shorter fold step, then fewer folds) and says so in a warning that names the
parameter, instead of failing; only data too short for one week-long fold and hold-out after
``min_trading_days`` of history raises.

Where the data holds the hold-out's calendar window a year earlier (52 weeks, so weekdays
line up), the plan adds seasonal-origin folds: one per earlier year whose window has
``min_trading_days`` of history before it. They validate the same weeks of the year as the
hold-out, so the season that the recent folds never show (a year-end ramp) is in the
backtest. ``season_seen`` says whether that window a year earlier is in the data at all: a
shop with a year or less of history cannot have checked its forecast on the season ahead.

A last day whose data stops early (an export cut mid-day) is not a day of demand: it is
detected from the time of day of its last line (``last_complete_day``) and left out of the
hold-out and of the history the served forecast starts from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from tailor.forecasting.series import SeriesTooShortError

log = logging.getLogger(__name__)
P = "forecasting.demand"
DAY = pd.Timedelta(days=1)
YEAR_DAYS = 364  # 52 weeks: the same weekdays a year earlier


def season_seen(first: pd.Timestamp, window_start: pd.Timestamp) -> bool:
    """Whether data starting at ``first`` holds the window starting at ``window_start`` a
    year earlier (52 weeks back, so its weekdays line up)."""
    return pd.Timestamp(first) <= pd.Timestamp(window_start) - YEAR_DAYS * DAY


def season_distance(a: pd.Timestamp, b: pd.Timestamp) -> int:
    """Days between two dates' places in the year (0 for the same week a year apart)."""
    d = abs((pd.Timestamp(a) - pd.Timestamp(b)).days) % YEAR_DAYS
    return min(d, YEAR_DAYS - d)


@dataclass(frozen=True)
class Windows:
    """Where the hold-out is, and the horizon and folds that fit the data."""

    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    horizon_days: int
    n_folds: int
    fold_step_days: int
    warnings: tuple[str, ...] = ()
    # the last day of data used (a partial last day is dropped); None: the data's last day
    data_end: pd.Timestamp | None = None
    # origins of the seasonal folds (the hold-out's weeks 52, 104 ... weeks earlier)
    seasonal_origins: tuple[pd.Timestamp, ...] = ()
    # the data holds the hold-out's calendar window a year earlier
    season_seen: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "holdout_start": str(self.holdout_start.date()),
            "holdout_end": str(self.holdout_end.date()),
            "horizon_days": self.horizon_days,
            "n_folds": self.n_folds,
            "fold_step_days": self.fold_step_days,
            "warnings": list(self.warnings),
            "data_end": None if self.data_end is None else str(self.data_end.date()),
            "seasonal_origins": [str(o.date()) for o in self.seasonal_origins],
            "season_seen": self.season_seen,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Windows:
        return cls(
            pd.Timestamp(d["holdout_start"]),
            pd.Timestamp(d["holdout_end"]),
            int(d["horizon_days"]),
            int(d["n_folds"]),
            int(d["fold_step_days"]),
            tuple(d.get("warnings", ())),
            pd.Timestamp(d["data_end"]) if d.get("data_end") else None,
            tuple(pd.Timestamp(o) for o in d.get("seasonal_origins", ())),
            bool(d.get("season_seen", False)),
        )

    def recent_origins(self) -> list[pd.Timestamp]:
        """The recent folds' origins, oldest first; the newest ends the day before the
        hold-out."""
        last = self.holdout_start - DAY - self.horizon_days * DAY
        return [last - i * self.fold_step_days * DAY for i in range(self.n_folds)][::-1]

    def origins(self) -> list[pd.Timestamp]:
        """Every fold origin (seasonal, then recent), oldest first; fold i validates
        (origin, origin + horizon]."""
        return sorted(self.seasonal_origins) + self.recent_origins()

    def fold_weights(self, decay: float) -> tuple[float, ...]:
        """Each fold's weight (aligned with ``origins``) by its distance in the year from
        the hold-out: the newest recent fold and the seasonal folds weigh 1, and each
        ``fold_step_days`` further from the hold-out's season multiplies by ``decay``. On the
        recent folds this is recency; a seasonal fold is as near in season as the newest fold
        is in time, or nearer."""
        origins = self.origins()
        dist = [season_distance(o + DAY, self.holdout_start) for o in origins]
        nearest = season_distance(self.recent_origins()[-1] + DAY, self.holdout_start)
        step = max(self.fold_step_days, 1)
        return tuple(float(min(1.0, decay ** ((d - nearest) / step))) for d in dist)


def last_complete_day(ts: pd.Series, quantile: float) -> tuple[pd.Timestamp, str | None]:
    """The last day of ``ts`` (line timestamps) whose data runs a full trading day, and why
    the day after it was dropped (None when the last day is complete).

    The last day is partial when its last line comes earlier in the day than the last line
    of all but ``quantile`` of the other days with data (the shop's usual closing time, as
    the data shows it). Timestamps without a time of day (all midnight) never flag a day.
    """
    ts = pd.to_datetime(ts).dropna()
    day = ts.dt.normalize()
    hours = (ts - day).dt.total_seconds() / 3600
    last_hour = hours.groupby(day).max()
    end = pd.Timestamp(last_hour.index.max())
    if len(last_hour) < 8:
        return end, None
    usual = float(np.quantile(last_hour.iloc[:-1], quantile))
    if last_hour.iloc[-1] >= usual:
        return end, None
    return end - DAY, (
        f"the last day {end.date()} has data until {last_hour.iloc[-1]:.1f} h only, earlier "
        f"than {1 - quantile:.0%} of days ({P}.partial_day_quantile = {quantile}: last line "
        f"by {usual:.1f} h): a partial day, left out of the hold-out and the forecast origin"
    )


def plan_windows(
    daily: pd.DataFrame, params: dict[str, Any], line_ts: pd.Series | None = None
) -> Windows:
    """The windows for ``daily`` (date, trading) under the demand parameters.

    History up to the first fold origin must hold ``min_trading_days`` trading days. With
    ``line_ts`` (the demand lines' timestamps) a partial last day is dropped first.
    """
    daily = daily.assign(date=pd.to_datetime(daily["date"])).sort_values("date")
    dropped = None
    if line_ts is not None and len(line_ts):
        data_end, dropped = last_complete_day(line_ts, float(params["partial_day_quantile"]))
        if dropped:
            log.warning(dropped)
        daily = daily[daily["date"] <= data_end]
    dates = daily["date"]
    first, last = dates.min(), dates.max()
    span = (last - first).days + 1
    trading_dates = dates[daily["trading"].to_numpy(dtype=bool)]
    need = int(params["min_trading_days"])
    if len(trading_dates) < need:
        raise SeriesTooShortError(
            f"{len(trading_dates)} trading days of data, {P}.min_trading_days = {need} are "
            "needed before any forecast can be validated"
        )
    history_days = (trading_dates.iloc[need - 1] - first).days + 1
    horizon = int(params["horizon_days"])
    n_folds = int(params["validation"]["n_folds"])
    step = int(params["validation"]["fold_step_days"])
    min_horizon = int(params.get("min_horizon_days", 7))
    min_step = int(params.get("min_fold_step_days", 7))
    notes: list[str] = [dropped] if dropped else []

    def warn(msg: str) -> None:
        notes.append(msg)
        log.warning(msg)

    end = pd.Timestamp(params.get("holdout_end") or last).normalize()
    if params.get("holdout_start"):
        start = pd.Timestamp(params["holdout_start"]).normalize()
    else:
        room = (end - first).days + 1 - history_days  # days left for one fold + the hold-out
        if room < 2 * horizon:
            fitted = room // 2
            if fitted < min_horizon:
                raise SeriesTooShortError(
                    f"{span} days of data: {history_days} days of history "
                    f"({P}.min_trading_days = {params['min_trading_days']} trading days) plus "
                    f"a fold and a hold-out of at least {min_horizon} days "
                    f"({P}.min_horizon_days) do not fit"
                )
            warn(
                f"{P}.horizon_days = {horizon} does not fit {span} days of data (history "
                f"{history_days} days + one validation fold + the hold-out): using {fitted} days"
            )
            horizon = fitted
        start = end - (horizon - 1) * DAY
    plan = Windows(start, end, horizon, n_folds, step, data_end=last)
    latest = plan.origins()[-1]
    room = (latest - (first + (history_days - 1) * DAY)).days  # days between the two origins
    if room < 0:
        raise SeriesTooShortError(
            f"hold-out from {start.date()}: fewer than {P}.min_trading_days = "
            f"{params['min_trading_days']} trading days before its only validation fold"
        )
    if n_folds > 1 and room // step + 1 < n_folds:
        fitted_step = max(min_step, room // (n_folds - 1))
        if fitted_step < step and room // fitted_step > room // step:  # only if it adds folds
            warn(
                f"{P}.validation.fold_step_days = {step} leaves too little history for "
                f"{n_folds} folds: using {fitted_step} days"
            )
            step = fitted_step
        fitted_folds = min(n_folds, room // step + 1)
        if fitted_folds < n_folds:
            warn(
                f"{P}.validation.n_folds = {n_folds} does not fit the history before the "
                f"hold-out: using {fitted_folds} fold(s)"
            )
            n_folds = fitted_folds
    plan = replace(plan, n_folds=n_folds, fold_step_days=step, warnings=tuple(notes))
    trading_first = trading_dates.iloc[0]
    seen = season_seen(trading_first, plan.holdout_start)
    if not seen:
        warn(
            f"the hold-out {plan.holdout_start.date()} .. {plan.holdout_end.date()} has no "
            f"analog a year earlier in the data (it starts {trading_first.date()}): the season "
            "ahead was never seen in training, so no fold checked the forecast or its interval "
            "on it (season_seen = false)"
        )
    seasonal = []
    earliest_recent = plan.recent_origins()[0]
    for k in range(1, int(params["validation"].get("max_seasonal_folds", 0)) + 1):
        origin = plan.holdout_start - DAY - k * YEAR_DAYS * DAY
        before = trading_dates[trading_dates <= origin]
        if len(before) < need or origin + plan.horizon_days * DAY >= earliest_recent:
            break
        seasonal.append(origin)
    return replace(
        plan, seasonal_origins=tuple(sorted(seasonal)), season_seen=seen, warnings=tuple(notes)
    )
