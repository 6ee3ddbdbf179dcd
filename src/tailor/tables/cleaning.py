"""The cleaning rules as Ibis expressions; each returns the kept rows and its count(s).

Cancellation netting is sequential per (customer, item): the lines of the pairs that have
a cancellation (a small share of all lines) are fetched and netted by the one rule,
:func:`tailor.cleaning.net_cancellations`; every other line stays in the backend.
"""

from __future__ import annotations

import logging

import ibis

from tailor import cleaning
from tailor.tables import backend as be
from tailor.tables.backend import ROW

log = logging.getLogger(__name__)


def drop_exact_duplicates(df: ibis.Table) -> tuple[ibis.Table, int]:
    """Lines identical in every column; the first in input order stays."""
    cols = [c for c in df.columns if c != ROW]
    kept = df.group_by(cols).aggregate(**{ROW: df[ROW].min()}).select(*df.columns).cache()
    return kept, be.count(df) - be.count(kept)


def drop_users(df: ibis.Table, users: ibis.Table) -> tuple[ibis.Table, int]:
    """Every line of the suppressed users (a missing id is nobody's)."""
    gone = users.select("user_id").filter(users.user_id.notnull()).distinct()
    kept = df.anti_join(gone, "user_id").select(*df.columns)
    return kept, be.count(df) - be.count(kept)


def is_cancellation(df: ibis.Table, prefix: str | None) -> ibis.BooleanValue:
    """As :func:`tailor.cleaning.is_cancellation`: the prefix and a negative quantity."""
    if not prefix:
        return ibis.literal(False)
    return df.order_id.startswith(prefix) & (df.quantity < 0)


def net_cancellations(df: ibis.Table, prefix: str | None) -> tuple[ibis.Table, dict[str, int]]:
    """Lines of (customer, item) pairs with a cancellation are netted by the pandas rule in
    input order; the other lines pass untouched."""
    if not prefix:
        return df, cleaning.net_cancellations(df.limit(0).to_pandas(), prefix)[1]
    keyed = df.mutate(_pair_user=df.user_id.fill_null(cleaning.NO_USER))
    pairs = keyed.filter(is_cancellation(keyed, prefix)).select("_pair_user", "item_id").distinct()
    involved = keyed.semi_join(pairs, ["_pair_user", "item_id"]).select(*df.columns)
    untouched = keyed.anti_join(pairs, ["_pair_user", "item_id"]).select(*df.columns)
    lines = involved.order_by(ROW).to_pandas()
    log.info("netting: %d lines of (customer, item) pairs with a cancellation", len(lines))
    kept, stats = cleaning.net_cancellations(lines, prefix)
    netted = be.table_as(kept, df.schema())
    return untouched.union(netted), stats


def drop_non_positive(df: ibis.Table) -> tuple[ibis.Table, dict[str, int]]:
    """Quantity <= 0, or else price <= 0 (a line bad on both counts once, under quantity)."""
    bad_qty = df.quantity <= 0
    bad_price = (df.unit_price <= 0) & ~bad_qty
    counts = df.aggregate(q=bad_qty.cast("int64").sum(), p=bad_price.cast("int64").sum())
    q, p = counts.to_pyarrow().to_pylist()[0].values()
    return df.filter(~(bad_qty | bad_price)), {
        "non_positive_quantity": int(q or 0),
        "non_positive_price": int(p or 0),
    }


def drop_non_product(df: ibis.Table, patterns: list[str]) -> tuple[ibis.Table, int]:
    """Postage, fees, manual adjustments…: item ids fully matching any pattern (any case)."""
    if not patterns:
        return df, 0
    mask = be.full_match_any_case(df.item_id, patterns)
    n = be.scalar(mask.cast("int64").sum())
    return df.filter(~mask), int(n or 0)


def drop_outliers(
    df: ibis.Table, max_quantity_robust_z: float, max_price_ratio: float
) -> tuple[ibis.Table, dict[str, int]]:
    """Robust z of log(quantity) over all lines (median/MAD), and unit price against the
    item's median price (typos and manual adjustments)."""
    logq = df.quantity.ln()
    med = be.scalar(logq.median())
    med = 0.0 if med is None else float(med)
    mad = be.scalar((logq - med).abs().median())
    mad = 1.4826 * float(mad) if mad is not None else 1.0
    medians = df.group_by("item_id").aggregate(_median=df.unit_price.median())
    scored = df.inner_join(medians, "item_id")
    z = (scored.quantity.ln() - med) / (mad if mad > 0 else 1.0)
    scored = scored.mutate(_qty_out=z > max_quantity_robust_z)
    ratio = scored.unit_price / scored._median
    scored = scored.mutate(
        _price_out=((ratio > max_price_ratio) | (ratio < 1.0 / max_price_ratio)) & ~scored._qty_out
    ).cache()
    q, p = (
        scored.aggregate(
            q=scored._qty_out.cast("int64").sum(), p=scored._price_out.cast("int64").sum()
        )
        .to_pyarrow()
        .to_pylist()[0]
        .values()
    )
    kept = scored.filter(~(scored._qty_out | scored._price_out)).select(*df.columns)
    return kept, {"outlier_quantity": int(q or 0), "outlier_price": int(p or 0)}


def opted_out(users: ibis.Table) -> ibis.Table:
    """Ids of users who said no to personalization."""
    if "consent" not in users.columns:
        return users.select("user_id").limit(0)
    return users.filter(~users.consent).select("user_id").distinct()


def split_by_consent(
    df: ibis.Table, users: ibis.Table
) -> tuple[ibis.Table, ibis.Table, dict[str, int]]:
    """Demand lines (opted-out ids blanked) and customer lines (identified, consenting)."""
    flags = opted_out(users).mutate(_opted=ibis.literal(True))
    flagged = be.left_join(df, flags, "user_id")
    flagged = flagged.mutate(_opted=flagged._opted.fill_null(False))
    no_user = flagged.user_id.isnull()
    customer = flagged.filter(~no_user & ~flagged._opted)
    counts = (
        flagged.aggregate(
            missing=no_user.cast("int64").sum(),
            opted=flagged._opted.cast("int64").sum(),
            rows=flagged.count(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    demand = flagged.mutate(
        user_id=ibis.ifelse(flagged._opted, ibis.null("string"), flagged.user_id)
    ).select(*df.columns)
    customer = customer.select(*df.columns)
    stats = {
        "demand_rows_out": int(counts["rows"]),
        "missing_customer": int(counts["missing"] or 0),
        "opted_out_users": int(counts["opted"] or 0),
        "customer_rows_out": be.count(customer),
    }
    return demand, customer, stats
