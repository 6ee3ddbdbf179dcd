"""Cleaning rules for canonical transaction lines; each returns the kept rows and a count.

The rules are small pure functions so each can be tested on a hand-made frame; the
data-engineering node chains them and turns their counts into the cleaning report.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import pandas as pd

NO_USER = ""  # stands for a missing customer while netting (anonymous lines still net)


def drop_exact_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop lines identical in every column (export glitches); a different quantity is a real
    second line of the order and stays."""
    kept = df.drop_duplicates(ignore_index=True)
    return kept, len(df) - len(kept)


def drop_users(df: pd.DataFrame, user_ids: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """Drop every line of ``user_ids`` (the suppression list: customers who asked to be
    forgotten), before any other rule so no count or output retains them."""
    mask = df["user_id"].isin(set(user_ids))
    return df[~mask].reset_index(drop=True), int(mask.sum())


def is_cancellation(df: pd.DataFrame, prefix: str | None) -> pd.Series:
    """Cancellation lines are recognised by their order id (UCI: 'C…'), not by sign: some
    negative lines are stock adjustments, not cancellations. No prefix: no cancellations."""
    if not prefix:
        return pd.Series(False, index=df.index)
    return df["order_id"].astype(str).str.startswith(prefix)


def net_cancellations(df: pd.DataFrame, prefix: str | None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Remove cancellation lines and the purchases they cancel.

    A cancellation (order id starting with ``prefix``, negative quantity) cancels a purchase
    (positive quantity) of the same customer and item at or before its time. Pass 1 removes
    the latest such purchase with exactly the cancelled quantity; pass 2 nets what is left
    against earlier purchases of the pair (latest first), reducing or removing them. What
    still remains had no purchase inside the data (bought before it starts) and is only
    counted.
    """
    cancel_mask = is_cancellation(df, prefix)
    purchases = df[~cancel_mask].copy()
    cancels = df[cancel_mask].sort_values("ts", kind="stable")
    stats = {
        "cancellation_lines": len(cancels),
        "purchase_lines_cancelled_exactly": 0,
        "purchase_lines_cancelled_partly": 0,
        "purchase_lines_cancelled_by_partial_netting": 0,
        "cancellation_units_unmatched": 0,
    }
    if cancels.empty:
        return purchases.reset_index(drop=True), stats

    users = purchases["user_id"].fillna(NO_USER).to_numpy()
    items = purchases["item_id"].to_numpy()
    ts = purchases["ts"].to_numpy()
    qty = purchases["quantity"].to_numpy(dtype=float).copy()
    c_users = cancels["user_id"].fillna(NO_USER).to_numpy()
    c_items = cancels["item_id"].to_numpy()
    c_ts = cancels["ts"].to_numpy()
    c_qty = np.abs(cancels["quantity"].to_numpy(dtype=float))

    wanted = set(zip(c_users, c_items, strict=True))
    # Only real purchases (positive quantity) can be cancelled: netting against a negative
    # stock adjustment would add its units to the cancellation and wipe out more purchases.
    pairs = [(u, i) in wanted for u, i in zip(users, items, strict=True)]
    candidate = np.array(pairs, dtype=bool) & (qty > 0)
    by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pos in np.flatnonzero(candidate):
        by_pair[(users[pos], items[pos])].append(int(pos))
    for positions in by_pair.values():
        positions.sort(key=lambda p: ts[p])

    alive = np.ones(len(purchases), dtype=bool)
    remaining = c_qty.copy()
    # Pass 1: exact quantity, latest earlier purchase first.
    for c in range(len(cancels)):
        positions = by_pair.get((c_users[c], c_items[c]), [])
        end = bisect.bisect_right([ts[p] for p in positions], c_ts[c])
        for p in reversed(positions[:end]):
            if alive[p] and qty[p] == c_qty[c]:
                alive[p] = False
                remaining[c] = 0.0
                stats["purchase_lines_cancelled_exactly"] += 1
                break
    # Pass 2: partial netting of what is left.
    for c in np.flatnonzero(remaining > 0):
        positions = by_pair.get((c_users[c], c_items[c]), [])
        end = bisect.bisect_right([ts[p] for p in positions], c_ts[c])
        for p in reversed(positions[:end]):
            if remaining[c] <= 0:
                break
            if not alive[p]:
                continue
            take = min(qty[p], remaining[c])
            qty[p] -= take
            remaining[c] -= take
            if qty[p] <= 0:
                alive[p] = False
                stats["purchase_lines_cancelled_by_partial_netting"] += 1
            else:
                stats["purchase_lines_cancelled_partly"] += 1
    stats["cancellation_units_unmatched"] = int(remaining.sum())
    purchases["quantity"] = qty
    return purchases[alive].reset_index(drop=True), stats


def drop_non_positive(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop lines with quantity <= 0 (adjustments left after netting) or price <= 0 (free
    samples, write-offs); a line bad on both counts once, under quantity."""
    bad_qty = df["quantity"] <= 0
    bad_price = (df["unit_price"] <= 0) & ~bad_qty
    kept = df[~(bad_qty | bad_price)].reset_index(drop=True)
    return kept, {
        "non_positive_quantity": int(bad_qty.sum()),
        "non_positive_price": int(bad_price.sum()),
    }


def drop_non_product(df: pd.DataFrame, patterns: list[str]) -> tuple[pd.DataFrame, int]:
    """Drop postage, fees, manual adjustments…: item ids fully matching any pattern (any case)."""
    if not patterns:
        return df, 0
    regex = "|".join(f"(?:{p})" for p in patterns)
    mask = df["item_id"].astype(str).str.fullmatch(regex, case=False)
    return df[~mask].reset_index(drop=True), int(mask.sum())


def drop_outliers(
    df: pd.DataFrame, max_quantity_robust_z: float, max_price_ratio: float
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop extreme lines by two robust rules.

    Quantity: robust z-score of log(quantity) (median/MAD over all lines) above
    ``max_quantity_robust_z``. Price: unit price more than ``max_price_ratio`` times, or less
    than 1/``max_price_ratio`` of, the item's median price (typos and manual adjustments).
    """
    logq = np.log(df["quantity"].to_numpy(dtype=float))
    med = np.median(logq) if len(logq) else 0.0
    mad = 1.4826 * np.median(np.abs(logq - med)) if len(logq) else 1.0
    z = (logq - med) / (mad if mad > 0 else 1.0)
    qty_out = z > max_quantity_robust_z
    item_median = df.groupby("item_id")["unit_price"].transform("median").to_numpy()
    ratio = df["unit_price"].to_numpy(dtype=float) / item_median
    price_out = ((ratio > max_price_ratio) | (ratio < 1.0 / max_price_ratio)) & ~qty_out
    kept = df[~(qty_out | price_out)].reset_index(drop=True)
    return kept, {"outlier_quantity": int(qty_out.sum()), "outlier_price": int(price_out.sum())}
