"""Robust views of the monitored columns: log scale, winsorized, rare categories pooled.

A handful of giant wholesale orders dominate the raw scale of money and quantity columns;
on a log scale clipped to the reference's quantiles they no longer decide the distance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

OTHER = "__other__"


@dataclass(frozen=True)
class ColumnSpec:
    """Which columns of one table are monitored and how they are transformed."""

    numeric: list[str]
    categorical: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    winsorize: tuple[float, float] = (0.01, 0.99)
    rare_category_share: float = 0.01

    @classmethod
    def from_params(cls, table: dict, common: dict) -> ColumnSpec:
        return cls(
            numeric=list(table.get("numeric", [])),
            categorical=list(table.get("categorical", [])),
            log=list(table.get("log", [])),
            winsorize=tuple(common.get("winsorize", (0.01, 0.99))),
            rare_category_share=float(common.get("rare_category_share", 0.01)),
        )

    def present(self, *frames: pd.DataFrame) -> ColumnSpec:
        """The spec restricted to columns every frame has (optional sources may be absent)."""

        def keep(cols: list[str]) -> list[str]:
            return [c for c in cols if all(c in f.columns for f in frames)]

        return ColumnSpec(
            keep(self.numeric),
            keep(self.categorical),
            keep(self.log),
            self.winsorize,
            self.rare_category_share,
        )

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.categorical


def robust_frames(
    reference: pd.DataFrame, current: pd.DataFrame, spec: ColumnSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transform both frames with constants fitted on the reference only."""
    ref_out, cur_out = {}, {}
    lo_q, hi_q = spec.winsorize
    for col in spec.numeric:
        r = reference[col].astype(float)
        c = current[col].astype(float)
        if col in spec.log:
            r, c = np.log1p(r.clip(lower=0)), np.log1p(c.clip(lower=0))
        lo, hi = r.quantile(lo_q), r.quantile(hi_q)
        ref_out[col], cur_out[col] = r.clip(lo, hi), c.clip(lo, hi)
    for col in spec.categorical:
        r = reference[col].astype("string").fillna("Unknown")
        c = current[col].astype("string").fillna("Unknown")
        shares = r.value_counts(normalize=True)
        common = set(shares[shares >= spec.rare_category_share].index)
        ref_out[col] = r.where(r.isin(common), OTHER).astype(str)
        cur_out[col] = c.where(c.isin(common), OTHER).astype(str)
    return (
        pd.DataFrame(ref_out, index=reference.index)[spec.columns].reset_index(drop=True),
        pd.DataFrame(cur_out, index=current.index)[spec.columns].reset_index(drop=True),
    )
