"""The core criterion on the real data: no false alarms on half-splits, seasonal drift found."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.monitoring.drift import (
    DriftConfig,
    assess_drift,
    drift_snapshot,
    evidently_drift_count,
)
from tailor.monitoring.robust import ColumnSpec
from tailor.monitoring.windows import Window, window_customer_features

FIRST = Window(pd.Timestamp("2010-12-01"), pd.Timestamp("2011-05-31"))
SECOND = Window(pd.Timestamp("2011-06-01"), pd.Timestamp("2011-11-30"))


@pytest.fixture(scope="module")
def windows(default_customer_lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    lines = default_customer_lines
    return (
        window_customer_features(lines, FIRST, FIRST.days),
        window_customer_features(lines, SECOND, SECOND.days),
    )


def _setup(params: dict[str, Any]) -> tuple[ColumnSpec, DriftConfig]:
    drift = params["drift"]
    return ColumnSpec.from_params(drift["customers"], drift), DriftConfig.from_params(drift)


def test_random_half_splits_of_the_reference_flag_no_column(windows, monitoring_params) -> None:
    reference, _ = windows
    spec, cfg = _setup(monitoring_params)
    users = reference["user_id"].unique()
    ratios = []
    for seed in range(10):
        half = np.random.default_rng(1000 + seed).permutation(users)[: len(users) // 2]
        inside = reference["user_id"].isin(half)
        result = assess_drift(reference[inside], reference[~inside], spec, cfg)
        assert len(result.table) >= 10  # all nine customer columns and more are monitored
        assert result.drifted == [], f"split {seed}: false alarm on {result.drifted}"
        ratios.append((result.table["statistic"] / result.table["threshold"]).max())
    # A margin, not a near miss: the largest statistic stays well under its threshold.
    assert max(ratios) < 0.9


def test_seasonal_windows_flag_recency_basket_size_and_unit_price(
    windows, monitoring_params
) -> None:
    reference, current = windows
    spec, cfg = _setup(monitoring_params)
    result = assess_drift(reference, current, spec, cfg)
    assert {"recency_days", "basket_size", "unit_price"} <= set(result.drifted)
    # The Evidently report, built with the same per-column methods and thresholds, agrees.
    count, share = evidently_drift_count(drift_snapshot(result, 0.5))
    assert count == len(result.drifted)
    assert share == pytest.approx(len(result.drifted) / len(result.table))
