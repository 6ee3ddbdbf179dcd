"""User x item matrices from interaction lines: confidence weighting and time decay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def user_item_matrix(
    interactions: pd.DataFrame,
    user_index: dict[str, int],
    item_index: dict[str, int],
    weighting: str = "binary",
    half_life_days: float | None = None,
    as_of: pd.Timestamp | None = None,
) -> sp.csr_matrix:
    """CSR (users x items) of distinct orders per pair, weighted.

    ``weighting``: ``binary`` (bought or not), ``count`` (orders), ``log`` (log1p orders),
    ``bm25`` (implicit's BM25 of the order counts). ``half_life_days`` multiplies each pair by
    0.5 ** (days since its last purchase / half-life) counted back from ``as_of`` (end of
    the training data: no future information), so old tastes weigh less.
    """
    df = interactions[["user_id", "item_id", "order_id", "ts"]]
    df = df[df["user_id"].isin(user_index.keys()) & df["item_id"].isin(item_index.keys())]
    pairs = (
        df.groupby(["user_id", "item_id"], sort=False)
        .agg(n=("order_id", "nunique"), last=("ts", "max"))
        .reset_index()
    )
    rows = pairs["user_id"].map(user_index).to_numpy(np.int64)
    cols = pairs["item_id"].map(item_index).to_numpy(np.int64)
    n = pairs["n"].to_numpy(np.float64)
    if weighting == "binary":
        w = np.ones_like(n)
    elif weighting == "count":
        w = n
    elif weighting in ("log", "bm25"):
        w = np.log1p(n) if weighting == "log" else n
    else:
        raise ValueError(f"unknown weighting '{weighting}'")
    if half_life_days:
        ref = as_of if as_of is not None else pairs["last"].max()
        age = (ref - pairs["last"]).dt.total_seconds().to_numpy() / 86400.0
        w = w * 0.5 ** (np.clip(age, 0, None) / float(half_life_days))
    x = sp.csr_matrix((w, (rows, cols)), shape=(len(user_index), len(item_index)))
    if weighting == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        x = bm25_weight(x, K1=100, B=0.8).tocsr()
    x.sum_duplicates()
    return x.astype(np.float32)


def binary(x: sp.spmatrix) -> sp.csr_matrix:
    """The same sparsity pattern with ones (what a user has bought)."""
    b = sp.csr_matrix(x, copy=True)
    b.data[:] = 1.0
    return b


def history_rows(
    histories: list[list[str]], item_index: dict[str, int], n_items: int
) -> sp.csr_matrix:
    """Binary rows for item lists (unknown item ids ignored)."""
    rows, cols = [], []
    for r, items in enumerate(histories):
        for item in items:
            j = item_index.get(item)
            if j is not None:
                rows.append(r)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.float32)
    x = sp.csr_matrix((data, (rows, cols)), shape=(len(histories), n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x
