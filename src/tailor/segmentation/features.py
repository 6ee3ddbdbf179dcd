"""The clustering feature space: derived columns, log of the skewed ones, imputed, scaled.

Columns are named expressions of the customer features (``orders_per_month: 30 * frequency
/ (tenure_days + 30)``): rates rather than running totals, so a customer's position does
not drift just because a later snapshot has had more time to accumulate orders. The space
is fitted once and stored with the model, so later snapshots (serving) land in the same
space instead of being rescaled on their own distribution.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z_]\w*")


def evaluate(features: pd.DataFrame, expr: str) -> pd.Series:
    """A column or an arithmetic expression of columns, as numbers (±inf, e.g. x/0: missing).

    The one evaluator of feature expressions: clustering columns and rule conditions.
    """
    values = features[expr] if expr in features else features.eval(expr)
    return pd.to_numeric(values, errors="coerce").replace([np.inf, -np.inf], np.nan)


def derive(features: pd.DataFrame, expressions: dict[str, str]) -> pd.DataFrame:
    """The named expressions whose input columns all exist (others are left out)."""
    out = {
        name: evaluate(features, expr)
        for name, expr in expressions.items()
        if all(c in features for c in NAME.findall(expr))
    }
    return pd.DataFrame(out, index=features.index)


@dataclass
class FeatureSpace:
    expressions: dict[str, str]
    columns: list[str]
    log_columns: list[str]
    medians: dict[str, float]
    mean: np.ndarray
    scale: np.ndarray

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Scaled matrix (rows follow ``features``); missing values get the train median."""
        x = derive(features, self.expressions).reindex(columns=self.columns).astype(float)
        x = x.fillna(self.medians).fillna(0.0)
        for col in self.log_columns:
            x[col] = np.log1p(x[col].clip(lower=0))
        return (x.to_numpy() - self.mean) / self.scale


def usable_columns(features: pd.DataFrame, min_coverage: float) -> list[str]:
    """Columns filled for ``min_coverage`` of rows that vary.

    With ``derive`` this is how event/email features join the space only where those
    sources exist.
    """
    return [
        col
        for col in features.columns
        if features[col].notna().mean() >= min_coverage and features[col].nunique() > 1
    ]


def fit_feature_space(
    features: pd.DataFrame, expressions: dict[str, str], min_coverage: float, skew_threshold: float
) -> FeatureSpace:
    """Choose the columns, log-transform non-negative ones whose skewness exceeds the threshold."""
    derived = derive(features, expressions)
    columns = usable_columns(derived, min_coverage)
    if not columns:
        raise ValueError(f"none of the clustering features {list(expressions)} is usable")
    x = derived[columns].astype(float)
    medians = {c: float(v) for c, v in x.median().fillna(0.0).items()}
    x = x.fillna(medians)
    log_columns = [c for c in columns if x[c].min() >= 0 and float(x[c].skew()) > skew_threshold]
    for col in log_columns:
        x[col] = np.log1p(x[col])
    mean = x.mean().to_numpy()
    scale = x.std(ddof=0).replace(0.0, 1.0).to_numpy()
    log.info("clustering on %s; log-transformed (skewed): %s", columns, log_columns)
    return FeatureSpace(dict(expressions), columns, log_columns, medians, mean, scale)
