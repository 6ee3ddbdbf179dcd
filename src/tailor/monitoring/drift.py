"""Column drift with thresholds that know the reference's own noise.

Each column gets an effect-size statistic (normed Wasserstein distance for numbers,
Jensen-Shannon distance for categories) on its robust view (see ``robust``), computed by
Evidently's own stat-test implementations so the reports show the same numbers. The
threshold of a column is the larger of a minimum effect size and the combination
``hypot(sampling, in_time)`` of two independent sources of difference: ``sampling`` is
``multiplier`` × the ``quantile`` of that statistic between random customer half-splits of
the reference, rescaled to the sizes compared (other customers); ``in_time`` is the largest
statistic between one tile of the reference and the rest of it (another stretch of time).
Lines of one customer move together, so splits are by customer; p-values on hundreds of
thousands of lines would flag everything. Half-splits mix all tiles on both sides, so they
see sampling noise only: a reference that itself changes over time (a shop's launch
months, a season) would make a later window of the same, undrifted shop look drifted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tailor.monitoring.robust import ColumnSpec, robust_frames

if TYPE_CHECKING:
    from evidently.core.report import Snapshot
    from evidently.legacy.core import ColumnType

# Evidently is imported where it is used: it takes seconds to import, and every `kedro run`
# imports every pipeline's node modules, monitoring's included.

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftConfig:
    numeric_method: str = "wasserstein"
    categorical_method: str = "jensenshannon"
    min_effect_numeric: float = 0.05
    min_effect_categorical: float = 0.05
    n_splits: int = 60
    quantile: float = 0.9
    multiplier: float = 2.0
    seed: int = 42
    across_tiles: bool = True

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> DriftConfig:
        method, effect, cal = p.get("method", {}), p.get("min_effect", {}), p.get("calibration", {})
        return cls(
            numeric_method=method.get("numeric", cls.numeric_method),
            categorical_method=method.get("categorical", cls.categorical_method),
            min_effect_numeric=float(effect.get("numeric", cls.min_effect_numeric)),
            min_effect_categorical=float(effect.get("categorical", cls.min_effect_categorical)),
            n_splits=int(cal.get("n_splits", cls.n_splits)),
            quantile=float(cal.get("quantile", cls.quantile)),
            multiplier=float(cal.get("multiplier", cls.multiplier)),
            seed=int(cal.get("seed", cls.seed)),
            across_tiles=bool(cal.get("across_tiles", cls.across_tiles)),
        )


@dataclass
class DriftAssessment:
    """Per-column results plus the transformed frames the Evidently report is built from."""

    table: pd.DataFrame
    reference: pd.DataFrame
    current: pd.DataFrame
    spec: ColumnSpec

    @property
    def drifted(self) -> list[str]:
        return self.table.loc[self.table["drifted"], "column"].tolist()

    @property
    def share(self) -> float:
        valid = self.table["statistic"].notna()
        return float(self.table.loc[valid, "drifted"].mean()) if valid.any() else 0.0


def _kind(col: str, spec: ColumnSpec) -> ColumnType:
    from evidently.legacy.core import ColumnType

    return ColumnType.Numerical if col in spec.numeric else ColumnType.Categorical


def _method(col: str, spec: ColumnSpec, cfg: DriftConfig) -> str:
    return cfg.numeric_method if col in spec.numeric else cfg.categorical_method


def column_statistic(ref: pd.Series, cur: pd.Series, kind: ColumnType, method: str) -> float:
    """Evidently's statistic for one column (NaN when either side has no values)."""
    ref, cur = ref.dropna(), cur.dropna()
    if ref.empty or cur.empty:
        return float("nan")
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest

    test = get_registered_stattest(method, kind)
    return float(test(ref, cur, kind, None).drift_score)


def half_split_masks(groups: pd.Series, n_splits: int, seed: int) -> list[np.ndarray]:
    """Boolean masks putting a random half of the groups (customers) on one side."""
    rng = np.random.default_rng(seed)
    uniq = np.asarray(pd.unique(groups))
    masks = []
    for _ in range(n_splits):
        half = rng.permutation(uniq)[: len(uniq) // 2]
        masks.append(groups.isin(half).to_numpy())
    return masks


def reference_noise(
    ref_t: pd.DataFrame, groups: pd.Series, spec: ColumnSpec, cfg: DriftConfig
) -> dict[str, float]:
    """The ``quantile`` of each column's statistic between random half-splits of the reference."""
    values: dict[str, list[float]] = {c: [] for c in spec.columns}
    for mask in half_split_masks(groups.reset_index(drop=True), cfg.n_splits, cfg.seed):
        for col in spec.columns:
            values[col].append(
                column_statistic(
                    ref_t.loc[mask, col],
                    ref_t.loc[~mask, col],
                    _kind(col, spec),
                    _method(col, spec, cfg),
                )
            )
    return {
        c: float(np.nanquantile(v, cfg.quantile)) if np.isfinite(v).any() else float("nan")
        for c, v in values.items()
    }


def tile_noise(
    ref_t: pd.DataFrame, tiles: pd.Series, spec: ColumnSpec, cfg: DriftConfig
) -> dict[str, float]:
    """Per column, the largest statistic between one reference tile and the other tiles.

    How much a window as long as the current one varies inside the reference over time,
    with no drift at all; NaN when the reference is a single tile.
    """
    tiles = tiles.reset_index(drop=True)
    labels = pd.unique(tiles)
    values: dict[str, list[float]] = {c: [] for c in spec.columns}
    for label in labels if len(labels) > 1 else []:
        inside = (tiles == label).to_numpy()
        for col in spec.columns:
            # the rest of the reference plays the reference, the tile the current window
            values[col].append(
                column_statistic(
                    ref_t.loc[~inside, col],
                    ref_t.loc[inside, col],
                    _kind(col, spec),
                    _method(col, spec, cfg),
                )
            )
    return {
        c: float(np.nanmax(v)) if np.isfinite(v).any() else float("nan") for c, v in values.items()
    }


def assess_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: ColumnSpec,
    cfg: DriftConfig,
    group_col: str = "user_id",
    tile_col: str = "window",
) -> DriftAssessment:
    """Statistic, calibrated threshold and verdict for every monitored column.

    ``tile_col`` labels the reference's tiles (``windows.window_customer_features``); a
    reference without it, or of one tile, has no variation in time to calibrate on.
    """
    spec = spec.present(reference, current)
    ref_t, cur_t = robust_frames(reference, current, spec)
    noise = reference_noise(ref_t, reference[group_col], spec, cfg)
    in_time = (
        tile_noise(ref_t, reference[tile_col], spec, cfg)
        if cfg.across_tiles and tile_col in reference
        else dict.fromkeys(spec.columns, float("nan"))
    )
    g_ref, g_cur = reference[group_col].nunique(), max(current[group_col].nunique(), 1)
    # Half-splits compare g/2 with g/2 groups; rescale to g_ref vs g_cur (noise ~ sqrt(1/n+1/m)).
    scale = 0.5 * np.sqrt(1.0 + g_ref / g_cur)
    rows = []
    for col in spec.columns:
        kind, method = _kind(col, spec), _method(col, spec, cfg)
        floor = cfg.min_effect_numeric if col in spec.numeric else cfg.min_effect_categorical
        stat = column_statistic(ref_t[col], cur_t[col], kind, method)
        sampling = cfg.multiplier * noise[col] * scale if np.isfinite(noise[col]) else 0.0
        # other customers and another stretch of time are independent sources of difference
        threshold = max(floor, float(np.hypot(sampling, np.nan_to_num(in_time[col]))))
        rows.append(
            {
                "column": col,
                "kind": kind.value,
                "method": method,
                "statistic": stat,
                "noise": noise[col],
                "tile_noise": in_time[col],
                "threshold": float(threshold),
                "drifted": bool(np.isfinite(stat) and stat >= threshold),
                "n_reference": int(ref_t[col].notna().sum()),
                "n_current": int(cur_t[col].notna().sum()),
            }
        )
    return DriftAssessment(pd.DataFrame(rows), ref_t, cur_t, spec)


def drift_snapshot(assessment: DriftAssessment, drift_share: float) -> Snapshot:
    """Evidently's DataDriftPreset on the robust frames with the per-column methods/thresholds."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    spec, table = assessment.spec, assessment.table.set_index("column")
    cols = [c for c in spec.columns if np.isfinite(table.loc[c, "statistic"])]
    definition = DataDefinition(
        numerical_columns=[c for c in spec.numeric if c in cols],
        categorical_columns=[c for c in spec.categorical if c in cols],
    )
    preset = DataDriftPreset(
        columns=cols,
        per_column_method={c: str(table.loc[c, "method"]) for c in cols},
        per_column_threshold={c: float(table.loc[c, "threshold"]) for c in cols},
        drift_share=drift_share,
    )
    return Report([preset]).run(
        Dataset.from_pandas(assessment.current[cols], data_definition=definition),
        Dataset.from_pandas(assessment.reference[cols], data_definition=definition),
    )


def evidently_drift_count(snapshot: Snapshot) -> tuple[float, float]:
    """(count, share) of drifted columns as Evidently's DriftedColumnsCount reports them."""
    for metric in snapshot.dict()["metrics"]:
        if metric["config"]["type"].endswith("DriftedColumnsCount"):
            return float(metric["value"]["count"]), float(metric["value"]["share"])
    raise ValueError("snapshot has no DriftedColumnsCount metric")
