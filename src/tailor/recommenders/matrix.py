"""User x item matrices from interaction lines: confidence weighting and time decay."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.recommenders.frame_memo import per_frame


@dataclass(frozen=True)
class LineCodes:
    """Rows' user and item ids as codes into the frame's own unique ids (-1: missing)."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    user: np.ndarray
    item: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return (self.user >= 0) & (self.item >= 0)

    @property
    def width(self) -> int:
        """The item base of ``pair_key`` (at least 1)."""
        return max(len(self.item_ids), 1)

    def pair_key(self, mask: np.ndarray) -> np.ndarray:
        """One integer per (user, item) of the rows in ``mask`` (valid rows only)."""
        return self.user[mask].astype(np.int64) * self.width + self.item[mask]

    def in_index(
        self, user_index: dict[str, int], item_index: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, keep): each row's position in the indexes, for the rows whose
        user and item are both in them (``keep``)."""
        rows = np.append(positions(self.user_ids, user_index), -1)[self.user]
        cols = np.append(positions(self.item_ids, item_index), -1)[self.item]
        keep = (rows >= 0) & (cols >= 0)
        return rows[keep], cols[keep], keep


@per_frame
def line_codes(interactions: pd.DataFrame) -> LineCodes:
    """The frame's ids factorised once: every fit of a window maps the unique ids through
    its own index instead of hashing the lines' strings again."""
    user, user_ids = pd.factorize(interactions["user_id"])
    item, item_ids = pd.factorize(interactions["item_id"])
    return LineCodes(
        np.asarray(user_ids, dtype=object), np.asarray(item_ids, dtype=object), user, item
    )


@dataclass(frozen=True)
class Pairs:
    """A frame's distinct (user, item) pairs (``codes``, one row per pair, into the
    frame's unique ids) with the pair's distinct orders ``n`` and last purchase ``last``."""

    codes: LineCodes
    n: np.ndarray
    last: pd.Series


@per_frame
def pairs_of(interactions: pd.DataFrame) -> Pairs:
    """The frame's pairs, grouped once per frame."""
    codes = line_codes(interactions)
    keep = codes.valid  # missing ids belong to no pair
    grouped = (
        pd.DataFrame(
            {
                "key": codes.pair_key(keep),
                "order_id": interactions["order_id"].array[keep],
                "ts": interactions["ts"].array[keep],
            }
        )
        .groupby("key", sort=False)
        .agg(n=("order_id", "nunique"), last=("ts", "max"))
    )
    keys = grouped.index.to_numpy(np.int64)
    return Pairs(
        codes=LineCodes(codes.user_ids, codes.item_ids, keys // codes.width, keys % codes.width),
        n=grouped["n"].to_numpy(np.float64),
        last=grouped["last"].reset_index(drop=True),
    )


def positions(ids: np.ndarray, index: dict[str, int]) -> np.ndarray:
    """Each id's position in ``index`` (-1 when absent)."""
    return np.fromiter((index.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))


def per_index(
    ids: np.ndarray, values: np.ndarray, index: dict[str, int], fill: float
) -> np.ndarray:
    """``values`` (one per id) at their ids' positions in ``index``; ``fill`` elsewhere."""
    out = np.full(len(index), fill, dtype=np.float64)
    at = positions(ids, index)
    out[at[at >= 0]] = values[at >= 0]
    return out


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
    the training data: no future information), so old tastes weigh less. Pairs whose user
    or item is not in the index are left out.
    """
    pairs = pairs_of(interactions)
    rows, cols, keep = pairs.codes.in_index(user_index, item_index)
    n = pairs.n[keep]
    if weighting == "binary":
        w = np.ones_like(n)
    elif weighting == "count":
        w = n
    elif weighting in ("log", "bm25"):
        w = np.log1p(n) if weighting == "log" else n
    else:
        raise ValueError(f"unknown weighting '{weighting}'")
    if half_life_days:
        last = pairs.last[keep]
        ref = as_of if as_of is not None else last.max()
        age = (ref - last).dt.total_seconds().to_numpy() / 86400.0
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
