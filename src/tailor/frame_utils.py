"""Small vectorised DataFrame helpers shared by the data modules."""

from __future__ import annotations

import pandas as pd


def modal_by(df: pd.DataFrame, key: str, col: str) -> pd.Series:
    """Most frequent ``col`` per ``key`` (ties: smallest value), without per-group lambdas."""
    counts = df.groupby([key, col], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n"], ascending=[True, False], kind="stable")
    return counts.drop_duplicates(key).set_index(key)[col]


def str_ids(df: pd.DataFrame, columns: tuple[str, ...] = ("user_id", "item_id")) -> pd.DataFrame:
    """``df`` with ``columns`` as Python strings; the same object when they already are (a
    frame keeps its identity, so results cached per frame, e.g. ``order_items``, apply)."""
    todo = {c: str for c in columns if pd.api.types.infer_dtype(df[c], skipna=False) != "string"}
    return df.astype(todo) if todo else df
