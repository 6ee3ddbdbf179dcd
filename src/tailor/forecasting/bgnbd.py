"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): the model CLV
work reaches for, as a next-purchase candidate and baseline.

A customer buys as a Poisson process (rate ~ Gamma(r, alpha)) and after each purchase drops
out with probability p ~ Beta(a, b). Fitted by maximum likelihood on each customer's
(x repeat purchase days, t_x day of the last purchase after the first, T age in days) as of
the as-of date, with scipy: the likelihood and the conditional expectations are those of
the paper and of the `lifetimes` package, which the tests compare it with. (`lifetimes` itself
has had no release since 2020, so Tailor does not run on it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, gammaln, hyp2f1


def rfm(feats: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) from customer features as of a date: repeat purchase days, days from
    the first to the last purchase, days since the first purchase."""
    x = (feats["purchase_days"].to_numpy(dtype=float) - 1.0).clip(min=0.0)
    T = feats["tenure_days"].to_numpy(dtype=float).clip(min=0.0)
    t_x = (T - feats["recency_days"].to_numpy(dtype=float)).clip(min=0.0)
    return x, t_x, T


def _neg_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, penalizer: float
) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(t_x + alpha)
    top = np.maximum(a3, a4)
    ll = a1 + a2 + np.log(np.exp(a3 - top) + np.exp(a4 - top) * (x > 0)) + top
    return float(-ll.mean() + penalizer * np.sum(np.exp(log_params) ** 2))


@dataclass(frozen=True)
class BetaGeo:
    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, penalizer: float = 0.0) -> BetaGeo:
        """Maximum likelihood (L-BFGS on log parameters, from all ones)."""
        if len(x) < 10 or not (x > 0).any():
            raise ValueError(f"BG/NBD: {len(x)} customers, {(x > 0).sum()} repeat buyers")
        res = minimize(
            _neg_log_likelihood,
            np.zeros(4),
            args=(x, t_x, T, penalizer),
            method="L-BFGS-B",
            bounds=[(-20, 20)] * 4,
        )
        return cls(*(float(v) for v in np.exp(res.x)))

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(the customer has not dropped out by T)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        return np.where(x == 0, 1.0, expit(-log_div))

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (the paper's equation 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        _a, _b, _c = r + x, b + x, a + b + x - 1
        z = t / (alpha + T + t)
        with np.errstate(divide="ignore", invalid="ignore"):
            hyp = np.log(hyp2f1(_a, _b, _c, z))
            alt = np.log(hyp2f1(_c - _a, _c - _b, _c, z)) + (_c - _a - _b) * np.log(1 - z)
        hyp = np.where(np.isinf(hyp), alt, hyp)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - np.exp(hyp + (r + x) * np.log((alpha + T) / (alpha + t + T)))
        denom = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return first * second / denom

    def p_buy_within(self, t: np.ndarray | float, x, t_x, T) -> np.ndarray:
        """P(at least one purchase in (T, T + t]): alive, and the Poisson-Gamma rate (posterior
        Gamma(r + x, alpha + T)) brings a purchase within t."""
        none = ((self.alpha + T) / (self.alpha + T + t)) ** (self.r + x)
        return self.p_alive(x, t_x, T) * (1.0 - none)

    def median_days(self, x, t_x, T, max_days: float) -> np.ndarray:
        """Days until P(bought again) reaches 1/2 (``max_days`` when it never does: the
        customer has more likely dropped out than not)."""
        alive = self.p_alive(x, t_x, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = 1.0 - 0.5 / alive
            days = (self.alpha + T) * (np.power(frac, -1.0 / (self.r + x)) - 1.0)
        return np.where(alive > 0.5, np.minimum(days, max_days), max_days)
