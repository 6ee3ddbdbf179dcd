"""The one time split of the project: everything at or before the cutoff vs. after it."""

from __future__ import annotations

import pandas as pd


def split_by_time(
    df: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    ts_col: str = "ts",
    end: str | pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(before, after)`` with ``before.ts <= cutoff < after.ts [<= end]``.

    Used for train/test (cutoff from parameters) and, inside train, for fit/validation,
    so that tuning never sees the test window. ``cutoff`` is an instant: a bare date is its
    midnight, so lines later that day are ``after`` (point-in-time features use the same
    instant as their as-of date, so features and split agree).
    """
    cutoff = pd.Timestamp(cutoff)
    ts = df[ts_col]
    before = df[ts <= cutoff]
    after_mask = ts > cutoff
    if end is not None:
        after_mask &= ts <= pd.Timestamp(end)
    return before.reset_index(drop=True), df[after_mask].reset_index(drop=True)


def validation_cutoff(cutoff: str | pd.Timestamp, validation_days: int) -> pd.Timestamp:
    """The cutoff of the validation split carved from the end of train."""
    return pd.Timestamp(cutoff) - pd.Timedelta(days=validation_days)
