"""Data quality of the current window against the reference: missing, new, out of range."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # evidently is imported where used (seconds; see monitoring.drift)
    from evidently.core.report import Snapshot


def quality_snapshot(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    range_quantiles: tuple[float, float] = (0.0, 1.0),
) -> Snapshot:
    """Missing values per column, values outside the reference range, unseen categories."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import (
        MissingValueCount,
        OutListValueCount,
        OutRangeValueCount,
        RowCount,
    )

    numeric = [c for c in numeric if c in reference and c in current]
    categorical = [c for c in categorical if c in reference and c in current]
    metrics: list[Any] = [RowCount()]
    metrics += [MissingValueCount(column=c) for c in numeric + categorical]
    lo_q, hi_q = range_quantiles
    for col in numeric:
        ref = reference[col].dropna()
        if not ref.empty:
            metrics.append(
                OutRangeValueCount(
                    column=col, left=float(ref.quantile(lo_q)), right=float(ref.quantile(hi_q))
                )
            )
    for col in categorical:
        seen = sorted(reference[col].dropna().astype(str).unique().tolist())
        metrics.append(OutListValueCount(column=col, values=seen))
    cols = numeric + categorical
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def frame(df: pd.DataFrame) -> Dataset:
        out = df[cols].copy()
        out[categorical] = out[categorical].astype("string").astype(object)
        return Dataset.from_pandas(out, data_definition=definition)

    return Report(metrics).run(frame(current), frame(reference))


_CHECKS = {
    "MissingValueCount": "missing",
    "OutRangeValueCount": "out_of_range",
    "OutListValueCount": "new_category",
}


def quality_table(
    snapshot: Snapshot, table: str, limits: dict[str, float], reference: pd.DataFrame
) -> pd.DataFrame:
    """One row per (column, check): current count/share and whether it passes.

    A check passes when the current share exceeds the reference's own share by at most its
    limit (structural gaps, e.g. no interval for one-time buyers, are not news).
    """
    rows = []
    for metric in snapshot.dict()["metrics"]:
        kind = metric["config"]["type"].rsplit(":", 1)[-1]
        if kind not in _CHECKS:
            continue
        check = _CHECKS[kind]
        value = metric["value"]
        share = float(value["share"])
        col = metric["config"]["column"]
        base = float(reference[col].isna().mean()) if check == "missing" else 0.0
        rows.append(
            {
                "table": table,
                "column": col,
                "check": check,
                "count": int(value["count"]),
                "share": share,
                "reference_share": base,
                "limit": float(limits[check]),
                "ok": share <= base + float(limits[check]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["table", "column", "check", "count", "share", "reference_share", "limit", "ok"],
    )
