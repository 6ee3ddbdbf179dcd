"""The clustering feature space: chosen columns, log of the skewed ones, median-imputed, scaled.

Fitted once on the train-as-of features and stored with the model, so later snapshots
(serving) land in the same space instead of being rescaled on their own distribution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class FeatureSpace:
    columns: list[str]
    log_columns: list[str]
    medians: dict[str, float]
    mean: np.ndarray
    scale: np.ndarray

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Scaled matrix (rows follow ``features``); missing values get the train median."""
        x = features.reindex(columns=self.columns).astype(float)
        x = x.fillna(self.medians).fillna(0.0)
        for col in self.log_columns:
            x[col] = np.log1p(x[col].clip(lower=0))
        return (x.to_numpy() - self.mean) / self.scale


def usable_columns(features: pd.DataFrame, candidates: list[str], min_coverage: float) -> list[str]:
    """Candidates that exist here, are filled for ``min_coverage`` of rows and vary.

    This is how event/email features join the space only where those sources exist.
    """
    out = []
    for col in candidates:
        if col not in features:
            continue
        values = pd.to_numeric(features[col], errors="coerce")
        if values.notna().mean() >= min_coverage and values.nunique() > 1:
            out.append(col)
    return out


def fit_feature_space(
    features: pd.DataFrame, candidates: list[str], min_coverage: float, skew_threshold: float
) -> FeatureSpace:
    """Choose the columns, log-transform non-negative ones whose skewness exceeds the threshold."""
    columns = usable_columns(features, candidates, min_coverage)
    if not columns:
        raise ValueError(f"none of the clustering features {candidates} is usable")
    x = features[columns].astype(float)
    medians = {c: float(v) for c, v in x.median().fillna(0.0).items()}
    x = x.fillna(medians)
    log_columns = [c for c in columns if x[c].min() >= 0 and float(x[c].skew()) > skew_threshold]
    for col in log_columns:
        x[col] = np.log1p(x[col])
    mean = x.mean().to_numpy()
    scale = x.std(ddof=0).replace(0.0, 1.0).to_numpy()
    log.info("clustering on %s; log-transformed (skewed): %s", columns, log_columns)
    return FeatureSpace(columns, log_columns, medians, mean, scale)
