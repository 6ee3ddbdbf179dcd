"""The demand windows (hold-out, validation folds, horizon) derived from the data's own span.

``holdout_start``/``holdout_end`` null (the default) mean "the last ``horizon_days`` days of
the data". Validation folds forecast ``horizon_days`` ahead like the real forecast; the last
one ends the day before the hold-out and each earlier one starts ``fold_step_days`` earlier.
Where the data is too short for the configured horizon or folds, the plan degrades (shorter
horizon, then shorter fold step, then fewer folds) and says so in a warning that names the
parameter, instead of failing; only data too short for one week-long fold and hold-out after
``min_trading_days`` of history raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from tailor.forecasting.series import SeriesTooShortError

log = logging.getLogger(__name__)
P = "forecasting.demand"
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Windows:
    """Where the hold-out is, and the horizon and folds that fit the data."""

    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    horizon_days: int
    n_folds: int
    fold_step_days: int
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "holdout_start": str(self.holdout_start.date()),
            "holdout_end": str(self.holdout_end.date()),
            "horizon_days": self.horizon_days,
            "n_folds": self.n_folds,
            "fold_step_days": self.fold_step_days,
            "warnings": list(self.warnings),
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
        )

    def origins(self) -> list[pd.Timestamp]:
        """Fold origins, oldest first; fold i validates (origin, origin + horizon]."""
        last = self.holdout_start - DAY - self.horizon_days * DAY
        return [last - i * self.fold_step_days * DAY for i in range(self.n_folds)][::-1]


def plan_windows(daily: pd.DataFrame, params: dict[str, Any]) -> Windows:
    """The windows for ``daily`` (date, trading) under the demand parameters.

    History up to the first fold origin must hold ``min_trading_days`` trading days.
    """
    daily = daily.assign(date=pd.to_datetime(daily["date"])).sort_values("date")
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
    notes: list[str] = []

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
    plan = Windows(start, end, horizon, n_folds, step)
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
    return replace(plan, n_folds=n_folds, fold_step_days=step, warnings=tuple(notes))
