"""Each customer's next purchase: a censoring-aware survival model on point-in-time features.

Training rows are snapshots: at an as-of date, every customer with at least
``min_purchase_days`` purchase days so far, their features as of that date (nothing later),
and the days until their next purchase, observed up to ``observed_until``; customers who do
not buy again by then are right-censored, not dropped. A log-logistic (or Weibull /
log-normal) accelerated-failure-time model from lifelines is fitted on the days from the
as-of date, so the predicted gap since the last purchase (elapsed + remaining) is never
shorter than the days already elapsed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import LogLogisticAFTFitter, LogNormalAFTFitter, WeibullAFTFitter

from tailor.customer_features import customer_features
from tailor.forecasting.bgnbd import BetaGeo, rfm

DAY = pd.Timedelta(days=1)
FAMILIES = {
    "loglogistic": LogLogisticAFTFitter,
    "lognormal": LogNormalAFTFitter,
    "weibull": WeibullAFTFitter,
}
LOG_FEATURES = (
    "interval_mean",
    "interval_median",
    "interval_std",
    "frequency",
    "purchase_days",
    "monetary",
    "avg_order_value",
    "basket_size",
    "tenure_days",
    "n_items",
)


def snapshot(
    lines: pd.DataFrame,
    as_of: pd.Timestamp,
    observed_until: pd.Timestamp | None,
    min_purchase_days: int,
) -> pd.DataFrame:
    """Eligible customers' features as of ``as_of`` and, if observable, their outcome.

    ``days`` is the time from ``as_of`` to the next purchase, or to ``observed_until`` when
    none happened (``event`` false: censored). With ``observed_until=None`` (serving), no
    outcome columns are added.
    """
    feats = customer_features(lines, as_of)
    feats = feats[feats["purchase_days"] >= min_purchase_days].reset_index(drop=True)
    if observed_until is None:
        return feats
    later = lines[(lines["ts"] > as_of) & (lines["ts"] <= observed_until)]
    nxt = later.groupby("user_id")["ts"].min().reindex(feats["user_id"])
    event = nxt.notna().to_numpy()
    days = ((nxt - as_of) / DAY).to_numpy(dtype=float)
    horizon = (observed_until - as_of) / DAY
    return feats.assign(event=event, days=np.where(event, days, horizon))


def design(feats: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: log1p of the RFM/interval features, recency and recency/interval."""
    x = pd.DataFrame(
        {c: np.log1p(feats[c].astype(float).clip(lower=0).fillna(0)) for c in LOG_FEATURES}
    )
    recency = feats["recency_days"].astype(float).clip(lower=0)
    x["log_recency"] = np.log1p(recency)
    typical = feats["interval_median"].astype(float).fillna(recency).clip(lower=1)
    x["log_recency_over_interval"] = np.log1p(recency / typical)
    return x


@dataclass
class NextPurchaseModel:
    """A fitted AFT model; predicts remaining days, P(buy within N days), the interval."""

    fitter: object
    max_days: int

    @classmethod
    def fit(cls, train: pd.DataFrame, family: str, penalizer: float, max_days: int):
        if len(train) < 10 or not train["event"].any():
            raise ValueError(
                f"next purchase: {len(train)} training customers with "
                f"{int(train['event'].sum())} repeat purchases is too few to fit"
            )
        data = design(train).assign(days=train["days"].clip(lower=0.01), event=train["event"])
        fitter = FAMILIES[family](penalizer=penalizer)
        fitter.fit(data, duration_col="days", event_col="event")
        return cls(fitter, max_days)

    def _survival(self, feats: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
        x = design(feats).reset_index(drop=True)
        return self.fitter.predict_survival_function(x, times=grid).to_numpy().T

    def predict(self, feats: pd.DataFrame, within_days: int) -> pd.DataFrame:
        """expected_days (median remaining, capped), p_buy_within, interval_days.

        ``interval_days`` is the model's typical gap between purchases for the customer:
        the median remaining time evaluated right after a purchase (recency 0).
        """
        grid = np.arange(0, self.max_days + 1, dtype=float)
        surv = self._survival(feats, grid)
        expected = _median_time(surv, grid)
        fresh = feats.assign(recency_days=0.0)
        interval = _median_time(self._survival(fresh, grid), grid)
        return pd.DataFrame(
            {
                "user_id": feats["user_id"].to_numpy(),
                "recency_days": feats["recency_days"].to_numpy(dtype=float),
                "expected_days": expected,
                "p_buy_within": 1.0 - surv[:, min(within_days, self.max_days)],
                "interval_days": interval,
            }
        )


def _median_time(surv: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """First grid time where survival drops to 0.5 (the cap when it never does)."""
    below = surv <= 0.5
    idx = np.where(below.any(axis=1), below.argmax(axis=1), len(grid) - 1)
    return grid[idx]


def interval_heuristic(feats: pd.DataFrame, within_days: int) -> pd.DataFrame:
    """Baseline: the next purchase is one median interval after the last one."""
    remaining = (feats["interval_median"] - feats["recency_days"]).clip(lower=0).fillna(0)
    return pd.DataFrame(
        {
            "user_id": feats["user_id"].to_numpy(),
            "recency_days": feats["recency_days"].to_numpy(dtype=float),
            "interval_days": feats["interval_median"].fillna(0).to_numpy(dtype=float),
            "expected_days": remaining.to_numpy(dtype=float),
            # a monotone score, not a calibrated probability: enough for the AUC
            "p_buy_within": 1.0 / (1.0 + remaining.to_numpy(dtype=float) / within_days),
        }
    )


def gradient_boosting_baseline(
    train: pd.DataFrame, test: pd.DataFrame, within_days: int, seed: int
) -> pd.DataFrame:
    """Baseline: a gradient-boosting regressor on the customers who bought again, and a
    classifier for "buys within N days", on the same features.

    The regressor ignores the censored customers (as a plain regression must), which biases
    it towards short gaps: that suits the MAE on uncensored customers and hurts the ranking.
    """
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    event = train["event"].to_numpy() if len(train) else np.array([], bool)
    if event.sum() < 10:
        raise ValueError(f"gradient boosting: {int(event.sum())} repeat purchases to learn from")
    x, xt = design(train), design(test)
    reg = GradientBoostingRegressor(random_state=seed).fit(x[event], train["days"][event])
    known = (event | (train["days"] >= within_days)).to_numpy()
    label = (event & (train["days"] <= within_days).to_numpy())[known]
    clf = GradientBoostingClassifier(random_state=seed).fit(x[known], label)
    fresh = design(test.assign(recency_days=0.0))
    return pd.DataFrame(
        {
            "user_id": test["user_id"].to_numpy(),
            "recency_days": test["recency_days"].to_numpy(dtype=float),
            "expected_days": np.clip(reg.predict(xt), 0, None),
            "p_buy_within": clf.predict_proba(xt)[:, 1],
            "interval_days": np.clip(reg.predict(fresh), 0, None),
        }
    )


def bgnbd_predict(test: pd.DataFrame, within_days: int, penalizer: float, max_days: int):
    """BG/NBD fitted on the customers' own histories as of the as-of date (it needs no
    outcome: its calibration period is everything up to that date), predicting P(buy within
    N days) and the median days to the next purchase."""
    x, t_x, T = rfm(test)
    model = BetaGeo.fit(x, t_x, T, penalizer)
    return pd.DataFrame(
        {
            "user_id": test["user_id"].to_numpy(),
            "recency_days": test["recency_days"].to_numpy(dtype=float),
            "expected_days": model.median_days(x, t_x, T, max_days),
            "p_buy_within": model.p_buy_within(float(within_days), x, t_x, T),
            # the typical gap: the same median right after a purchase
            "interval_days": model.median_days(x, T, T, max_days),
        }
    )


# candidate order is also the tie-break: simpler first
TIMING_MODELS = ("interval_heuristic", "bgnbd", "gradient_boosting", "aft")


def fit_predict(
    name: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    within_days: int,
    params: dict,
    seed: int,
) -> pd.DataFrame:
    """One candidate fitted on ``train`` snapshots, predicting ``test``: user_id,
    recency_days, expected_days, p_buy_within, interval_days."""
    if name == "aft":
        model = NextPurchaseModel.fit(
            train, params["family"], float(params["penalizer"]), int(params["max_days"])
        )
        return model.predict(test, within_days)
    if name == "gradient_boosting":
        return gradient_boosting_baseline(train, test, within_days, seed)
    if name == "interval_heuristic":
        return interval_heuristic(test, within_days)
    if name == "bgnbd":
        return bgnbd_predict(
            test, within_days, float(params.get("bgnbd_penalizer", 0.0)), int(params["max_days"])
        )
    raise ValueError(f"unknown next-purchase model {name!r}; known: {TIMING_MODELS}")
