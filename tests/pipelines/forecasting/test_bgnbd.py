"""BG/NBD: Tailor's scipy implementation against the `lifetimes` package on the same data,
and its next-purchase predictions on customers whose habits are planted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter
from lifetimes.datasets import load_cdnow_summary

from tailor.forecasting.bgnbd import BetaGeo
from tailor.forecasting.next_purchase import bgnbd_predict


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = load_cdnow_summary(index_col=[0])
    return (
        d["frequency"].to_numpy(float),
        d["recency"].to_numpy(float),
        d["T"].to_numpy(float),
    )


def test_fit_matches_lifetimes_on_cdnow(cdnow) -> None:
    """The same maximum-likelihood parameters, P(alive) and conditional expected purchases
    as lifetimes' BetaGeoFitter on CDNOW (2,357 customers, weeks)."""
    x, t_x, T = cdnow
    ours = BetaGeo.fit(x, t_x, T)
    ref = BetaGeoFitter().fit(x, t_x, T)
    theirs = ref.params_
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(theirs[name], rel=2e-3), name
    # the published estimates (Fader, Hardie & Lee 2005): r 0.243, alpha 4.414, a 0.793, b 2.426
    assert (ours.r, ours.alpha, ours.a, ours.b) == pytest.approx(
        (0.243, 4.414, 0.793, 2.426), abs=2e-3
    )
    alive = ref.conditional_probability_alive(x, t_x, T)
    assert np.allclose(ours.p_alive(x, t_x, T), alive, atol=2e-3)
    expected = ref.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)
    assert np.allclose(ours.expected_purchases(39, x, t_x, T), expected, rtol=5e-3, atol=1e-3)


def test_predictions_follow_planted_habits() -> None:
    """Regular weekly buyers who bought yesterday are likelier to buy within 30 days, and
    sooner, than customers silent for far longer than their usual gap."""
    rng = np.random.default_rng(0)
    n = 400
    weekly = rng.random(n) < 0.5
    purchase_days = np.where(weekly, rng.integers(20, 40, n), rng.integers(3, 6, n))
    tenure = np.where(weekly, 7.0 * purchase_days, 300.0)
    recency = np.where(weekly, 1.0, 200.0)
    feats = pd.DataFrame(
        {
            "user_id": [str(i) for i in range(n)],
            "purchase_days": purchase_days,
            "tenure_days": tenure,
            "recency_days": recency,
        }
    )
    pred = bgnbd_predict(feats, 30, 0.0, 365)
    p, days = pred["p_buy_within"].to_numpy(), pred["expected_days"].to_numpy()
    assert p[weekly].min() > p[~weekly].max()
    assert np.median(days[weekly]) <= 10 and np.median(days[~weekly]) >= 100
