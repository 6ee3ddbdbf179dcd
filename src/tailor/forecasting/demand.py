"""Demand forecasting: candidates, validation folds, the served choice, calibrated intervals.

Every candidate (tuned Prophet, the statsforecast models, the year-ago model and two
combinations of them) is scored on the same validation folds inside the training window and
on the hold-out. One rule chooses the served model (``selection_table``): the lowest
weighted mean rank across folds, a fold weighing by its distance in the year from the
hold-out (``Windows.fold_weights``: recency on the recent folds, 1 on the seasonal-origin
folds). A rank is bounded, so one odd fold cannot hand the choice to a model that won only
there. The hold-out is only reported, never used to choose.

Yearly terms (Prophet's, MSTL's) and the year-ago model are used where the history holds the
forecast window's weeks a year earlier (``yearly.uses_year``), on a fold as at the hold-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tailor.forecasting.baselines import STATS_MODELS, baseline_forecast
from tailor.forecasting.calendar import ShopCalendar
from tailor.forecasting.metrics import forecast_metrics, interval_metrics, weekly_naive_scale
from tailor.forecasting.prophet_model import prophet_forecast
from tailor.forecasting.series import check_length
from tailor.forecasting.windows import Windows
from tailor.forecasting.yearly import uses_year, yearly_naive_forecast
from tailor.progress import progress

# candidate order is also the tie-break: simpler first
SINGLE = ("seasonal_naive", "yearly_naive", *STATS_MODELS[1:], "prophet")
# models that use last year's same weeks where the history holds them
YEARLY_MODELS = ("yearly_naive", "mstl", "prophet")
# season_ensemble: the median of the members that use the year, a candidate only where the
# hold-out's weeks a year earlier are in the data (members without the year pull a blend
# back to the level before the season: the seasonal-origin folds show them lagging it)
ENSEMBLES = ("median_ensemble", "weighted_ensemble", "season_ensemble")
CANDIDATES = (*SINGLE, *ENSEMBLES)
BANDS = ["yhat", "yhat_lower", "yhat_upper"]


@dataclass(frozen=True)
class DemandSettings:
    horizon_days: int
    n_folds: int
    fold_step_days: int
    min_trading_days: int
    yoy_level_days: int
    interval_width: float
    interval_tolerance: float
    uncertainty_samples: int
    ensemble_members: tuple[str, ...]
    recency_decay: float
    # per fold (aligned with Windows.origins): selection and calibration weights
    fold_weights: tuple[float, ...]
    # the hold-out's weeks a year earlier are in the data
    season_seen: bool

    @classmethod
    def from_params(cls, p: dict[str, Any], windows: Windows) -> DemandSettings:
        return cls(
            horizon_days=windows.horizon_days,
            n_folds=windows.n_folds,
            fold_step_days=windows.fold_step_days,
            min_trading_days=int(p["min_trading_days"]),
            yoy_level_days=int(p.get("yoy_level_days", 56)),
            interval_width=float(p["interval"]["width"]),
            interval_tolerance=float(p["interval"]["tolerance"]),
            uncertainty_samples=int(p["prophet"]["uncertainty_samples"]),
            ensemble_members=tuple(p["ensemble_members"]),
            recency_decay=float(p["validation"]["recency_decay"]),
            fold_weights=windows.fold_weights(float(p["validation"]["recency_decay"])),
            season_seen=windows.season_seen,
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
    """One single model's forecast (yhat, yhat_lower, yhat_upper) for ``dates``."""
    check_length(history, settings.min_trading_days)
    yearly = uses_year(history, dates)
    level = round(100 * settings.interval_width)
    if model == "prophet":
        return prophet_forecast(
            history,
            dates,
            calendar,
            prophet_params,
            yearly,
            settings.interval_width,
            settings.uncertainty_samples if uncertainty else 0,
        )
    if model == "yearly_naive":
        return yearly_naive_forecast(history, dates, calendar, settings.yoy_level_days, level)
    if model in STATS_MODELS:
        return baseline_forecast(model, history, dates, calendar, level, yearly)
    raise ValueError(f"unknown forecasting model {model!r}; known: {CANDIDATES}")


def members_of(models: tuple[str, ...], settings: DemandSettings) -> tuple[str, ...]:
    """The ensemble members among ``models`` (ensembles need at least two)."""
    return tuple(m for m in settings.ensemble_members if m in models)


def season_members(members: tuple[str, ...]) -> tuple[str, ...]:
    """The members of ``season_ensemble``: those that use the year where they can."""
    return tuple(m for m in members if m in YEARLY_MODELS)


def add_ensembles(
    fcs: dict[str, pd.DataFrame],
    models: tuple[str, ...],
    members: tuple[str, ...],
    weights: dict[str, float],
    settings: DemandSettings,
) -> None:
    """Add the ensembles among ``models`` to ``fcs`` (members' forecasts already there)."""
    if len(members) < 2 or not set(models) & set(ENSEMBLES):
        return  # no ensemble asked for: the members were not fitted
    parts = {m: fcs[m] for m in members}
    if "median_ensemble" in models:
        fcs["median_ensemble"] = combine(parts, None)
    if "weighted_ensemble" in models:
        fcs["weighted_ensemble"] = combine(parts, {m: weights[m] for m in members})
    seasonal = season_members(members)
    if "season_ensemble" in models and settings.season_seen and len(seasonal) >= 2:
        fcs["season_ensemble"] = combine({m: fcs[m] for m in seasonal}, None)


def singles_needed(models: tuple[str, ...], members: tuple[str, ...]) -> tuple[str, ...]:
    """The single models to fit for ``models`` (an ensemble needs its ``members``)."""
    want = set(models)
    if want & set(ENSEMBLES):
        want |= set(members)
    return tuple(m for m in SINGLE if m in want)


def combine(parts: dict[str, pd.DataFrame], weights: dict[str, float] | None) -> pd.DataFrame:
    """Median (``weights`` None) or weighted mean of the members' forecasts and bounds."""
    names = list(parts)
    stack = np.stack([parts[m][BANDS].to_numpy(dtype=float) for m in names])
    if weights is None:
        values = np.median(stack, axis=0)
    else:
        w = np.array([weights[m] for m in names], dtype=float)
        values = np.tensordot(w / w.sum(), stack, axes=1)
    return pd.DataFrame(values, index=parts[names[0]].index, columns=BANDS)


def inverse_error_weights(
    scores: pd.DataFrame, members: tuple[str, ...], fold_weights: tuple[float, ...]
) -> dict[str, float]:
    """Member weights 1 / (weighted mean validation MASE, ``fold_weights`` per fold) over
    the folds in ``scores``; equal weights when there is no fold yet."""
    if scores.empty:
        return dict.fromkeys(members, 1.0)
    out = {}
    for m in members:
        part = scores[scores["model"] == m]
        w = np.array([fold_weights[int(f)] for f in part["fold"]], dtype=float)
        mase = float(np.average(part["mase"].to_numpy(), weights=w))
        out[m] = 1.0 / max(mase, 1e-6)
    return out


def split_at(series: pd.DataFrame, origin: pd.Timestamp, horizon_days: int | None = None):
    """(history <= origin, the following ``horizon_days`` days or everything after)."""
    history = series[series["date"] <= origin]
    future = series[series["date"] > origin]
    if horizon_days is not None:
        future = future[future["date"] <= origin + pd.Timedelta(days=horizon_days)]
    return history.reset_index(drop=True), future.reset_index(drop=True)


def score(history: pd.DataFrame, future: pd.DataFrame, forecast: pd.DataFrame) -> dict[str, float]:
    """Point and interval metrics on ``future``'s trading days, MASE scaled on ``history``."""
    scale = weekly_naive_scale(history["y"], history["trading"])
    actual = future["y"].reset_index(drop=True)
    trading = future["trading"].reset_index(drop=True)
    fc = forecast.reset_index(drop=True)
    return {
        **forecast_metrics(actual, fc["yhat"], trading, scale),
        **interval_metrics(actual, fc["yhat_lower"], fc["yhat_upper"], trading, scale),
    }


def validation_forecasts(
    train: pd.DataFrame,
    calendar: ShopCalendar,
    prophet_params: dict[str, Any],
    settings: DemandSettings,
    windows: Windows,
    models: tuple[str, ...] = CANDIDATES,
    uncertainty: bool = True,
    fold_params: list[dict[str, Any]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every model's forecasts on each validation fold, and their per-fold scores.

    Forecasts come in long form (fold, model, date, bands, y, trading, scale). The weighted
    ensemble of fold f uses member weights from the folds before f only (equal weights on
    the first), so its validation score is as honest as the single models'. Likewise
    ``fold_params`` (one Prophet parameter set per fold, tuned on the earlier folds only;
    see ``tuning.nested_params``) replaces ``prophet_params`` fold by fold.
    """
    members = members_of(models, settings)
    rows, frames = [], []
    origins = progress(windows.origins(), "forecast folds", unit="fold")
    for fold, origin in enumerate(origins):
        history, future = split_at(train, origin, settings.horizon_days)
        dates = pd.DatetimeIndex(future["date"])
        seen = uses_year(history, dates)
        params = fold_params[fold] if fold_params else prophet_params
        fcs = {
            m: forecast_one(m, history, dates, calendar, params, settings, uncertainty)
            for m in singles_needed(models, members)
        }
        weights: dict[str, float] = {}
        if "weighted_ensemble" in models:  # from the folds before this one only
            earlier = pd.DataFrame(rows)
            earlier = earlier if earlier.empty else earlier[earlier["model"].isin(members)]
            weights = inverse_error_weights(earlier, members, settings.fold_weights)
        add_ensembles(fcs, models, members, weights, settings)
        scale = weekly_naive_scale(history["y"], history["trading"])
        for model, fc in fcs.items():
            rows.append(
                {
                    "fold": fold,
                    "origin": origin,
                    "model": model,
                    "season_seen": seen,
                    **score(history, future, fc),
                }
            )
            frames.append(
                fc.reset_index(names="date").assign(
                    fold=fold,
                    model=model,
                    y=future["y"].to_numpy(),
                    trading=future["trading"].to_numpy(),
                    scale=scale,
                    season_seen=seen,
                )
            )
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rows)


def selection_table(scores: pd.DataFrame, fold_weights: tuple[float, ...]) -> pd.DataFrame:
    """The one selection rule: per fold, rank the candidates by MASE (1 = best, ties
    averaged); a model's score is its mean rank, fold f weighing ``fold_weights[f]``. Lowest
    score is served; ties go to the simpler model (candidate order). Also reported: the
    weighted mean MASE and the folds each model won."""
    ranked = scores.assign(rank=scores.groupby("fold")["mase"].rank(method="average"))
    ranked["w"] = [fold_weights[int(f)] for f in ranked["fold"]]
    best = ranked.groupby("fold")["mase"].transform("min")
    ranked["won"] = ranked["mase"] == best
    rows = []
    for model, part in ranked.groupby("model"):
        rows.append(
            {
                "model": str(model),
                "weighted_rank": float(np.average(part["rank"], weights=part["w"])),
                "weighted_mase": float(np.average(part["mase"], weights=part["w"])),
                "folds_won": int(part["won"].sum()),
                "n_folds": len(part),
            }
        )
    table = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(CANDIDATES)}
    table["order"] = table["model"].map(order).fillna(len(order))
    table = table.sort_values(["weighted_rank", "order"], ignore_index=True).drop(columns="order")
    table["served"] = table.index == 0
    return table


def choose_served(scores: pd.DataFrame, fold_weights: tuple[float, ...]) -> str:
    """The served model under the selection rule (see ``selection_table``)."""
    table = selection_table(scores, fold_weights)
    return str(table.loc[table["served"], "model"].iloc[0])


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` under ``weights`` (the smallest value whose
    cumulative weight share reaches ``q``: conservative, like split conformal's rank)."""
    order = np.argsort(values)
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cum, q), len(values) - 1)])


def conformal_q(part: pd.DataFrame, settings: DemandSettings) -> float:
    """The conformal half-width (in MASE-scale units) from the residuals in ``part``: the
    ``interval_width`` quantile of the absolute scaled residuals, each fold weighing by its
    distance in the year from the hold-out (``settings.fold_weights``: the folds nearest in
    season count most)."""
    if part.empty:
        return 0.0
    r = np.abs(part["y"] - part["yhat"]).to_numpy(dtype=float)
    r = r / part["scale"].to_numpy(dtype=float).clip(min=1e-9)
    w = np.array([settings.fold_weights[int(f)] for f in part["fold"]], dtype=float)
    return weighted_quantile(r, w, settings.interval_width)


def calibration_folds(forecasts: pd.DataFrame, model: str, settings: DemandSettings):
    """The validation rows that calibrate ``model``'s interval: its trading days on the folds
    where it ran as it runs on the hold-out. A model that uses last year's weeks ran
    differently on a fold whose history lacked them (and the other way round), so for those
    models only the folds with the hold-out's ``season_seen`` count, unless there is none."""
    part = forecasts[(forecasts["model"] == model) & forecasts["trading"].astype(bool)]
    if model in YEARLY_MODELS or model in ENSEMBLES:
        same = part[part["season_seen"].astype(bool) == settings.season_seen]
        if len(same):
            return same
    return part


def _covered(part: pd.DataFrame, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    y = part["y"].to_numpy(dtype=float)
    return (y >= lower) & (y <= upper)


def calibration(forecasts: pd.DataFrame, model: str, settings: DemandSettings) -> dict[str, Any]:
    """The model's own interval or a conformal one, whichever covered closer to
    ``interval_width`` on validation folds it was not calibrated on.

    Conformal: forecast ± q x the MASE scale, q from ``conformal_q`` on the validation
    residuals. Symmetric on purpose: the sign of the error flips between windows when the
    level turns (over-forecast in a lull, under-forecast in a ramp); separate lower and upper
    quantiles of the pooled signed residuals then point the interval the wrong way. The
    recency weights (conformal prediction under drift) let the newest folds matter most.

    The comparison is out of sample for both: the conformal interval on fold f uses q from
    the folds before f only, and both are scored on folds 1..n-1 (the own interval never
    saw a fold). With a single fold the own interval is kept when its coverage is within
    ``interval_tolerance`` of the width.
    """
    part = calibration_folds(forecasts, model, settings)
    lower, upper = part["yhat_lower"].to_numpy(), part["yhat_upper"].to_numpy()
    inside = _covered(part, lower, upper)
    own = float(inside.mean()) if len(part) else float("nan")
    q = conformal_q(part, settings)
    folds = sorted(part["fold"].unique())
    nominal = settings.interval_width
    if len(folds) < 2:
        off = not abs(own - nominal) <= settings.interval_tolerance
        own_later, conformal_later = own, float("nan")
    else:
        later = part["fold"].to_numpy() >= folds[1]
        own_later = float(inside[later].mean())
        hits = []
        for f in folds[1:]:
            test = part[part["fold"] == f]
            q_f = conformal_q(part[part["fold"] < f], settings)
            scale = test["scale"].to_numpy(dtype=float)
            yhat = test["yhat"].to_numpy(dtype=float)
            hits.append(_covered(test, yhat - q_f * scale, yhat + q_f * scale))
        conformal_later = float(np.concatenate(hits).mean())
        off = abs(conformal_later - nominal) < abs(own_later - nominal)
    return {
        "method": "conformal" if off else "own",
        # no fold could check an interval on a season the history never held
        "calibrated": settings.season_seen,
        "val_coverage_own": own,
        "val_coverage_own_later": own_later,
        "val_coverage_conformal_later": conformal_later,
        "q_lo": -q,
        "q_hi": q,
    }


def calibrated(
    fc: pd.DataFrame, cal: dict[str, Any], history: pd.DataFrame, calendar: ShopCalendar
) -> pd.DataFrame:
    """``fc`` with the conformal interval of ``cal`` (unchanged when the method is own)."""
    if cal["method"] != "conformal":
        return fc
    scale = weekly_naive_scale(history["y"], history["trading"])
    out = fc.copy()
    out["yhat_lower"] = out["yhat"] + cal["q_lo"] * scale
    out["yhat_upper"] = out["yhat"] + cal["q_hi"] * scale
    out.loc[~calendar.is_open(pd.DatetimeIndex(out.index)).to_numpy()] = 0.0
    return out.clip(lower=0.0)


def forecast_models(
    history: pd.DataFrame,
    dates: pd.DatetimeIndex,
    calendar: ShopCalendar,
    prophet_params: dict[str, Any],
    settings: DemandSettings,
    models: tuple[str, ...],
    weights: dict[str, float],
    calibrations: dict[str, dict[str, Any]],
) -> dict[str, pd.DataFrame]:
    """The forecasts of ``models`` from all of ``history``: ensembles from the members named
    in ``weights`` (from the validation folds), intervals calibrated."""
    members = tuple(weights)
    fcs = {
        m: forecast_one(m, history, dates, calendar, prophet_params, settings)
        for m in singles_needed(models, members)
    }
    add_ensembles(fcs, models, members, weights, settings)
    return {
        m: calibrated(fcs[m], calibrations[m], history, calendar)
        for m in CANDIDATES
        if m in models and m in fcs
    }


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
