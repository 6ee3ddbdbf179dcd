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


# The per-line rules after netting, in the report's order: a line is counted under the
# first it fails (a line bad on quantity and price once, under quantity).
LINE_RULES = (
    "non_positive_quantity",
    "non_positive_price",
    "non_product",
    "outlier_quantity",
    "outlier_price",
)


def line_rules(
    df: ibis.Table,
    patterns: list[str],
    max_quantity_robust_z: float,
    max_price_ratio: float,
    users: ibis.Table,
) -> tuple[ibis.Table, ibis.Table, dict[str, int]]:
    """Quantity or price <= 0; postage, fees, manual adjustments (item ids fully matching a
    pattern, any case); outliers: robust z of log(quantity) over the remaining lines
    (median/MAD), unit price against the item's median price (typos and manual
    adjustments); then demand lines (opted-out ids blanked) and customer lines
    (identified, consenting). Each line is marked with the first rule it fails: the
    non-positive and non-product marks in one materialised table (the medians and the
    scoring read it), the outlier marks and the consent in the scoring expression, which
    one aggregate counts for every step of the report (the scored table materialised
    instead of the marks measured slower: 1.39 s against 0.93 s on the default data)."""
    rules = [
        (df.quantity <= 0, "non_positive_quantity"),
        (df.unit_price <= 0, "non_positive_price"),
    ]
    if patterns:
        rules.append((be.full_match_any_case(df.item_id, patterns), "non_product"))
    first = ibis.cases(*rules, else_=ibis.null("string"))
    marked = df.mutate(_rule=first).cache()  # read by the medians and the scoring
    base = marked.filter(marked._rule.isnull())
    logq = base.quantity.ln()
    med = be.scalar(logq.median())
    med = 0.0 if med is None else float(med)
    mad = be.scalar((logq - med).abs().median())
    mad = 1.4826 * float(mad) if mad is not None else 1.0
    medians = base.group_by("item_id").aggregate(_median=base.unit_price.median()).cache()
    flags = opted_out(users).mutate(_opted=ibis.literal(True))
    scored = be.left_join(be.left_join(marked, medians, "item_id"), flags, "user_id")
    # only lines no earlier rule dropped are scored (log of a positive quantity)
    quantity = ibis.ifelse(scored._rule.isnull(), scored.quantity, 1.0)
    z = (quantity.ln() - med) / (mad if mad > 0 else 1.0)
    ratio = scored.unit_price / scored._median
    outlier = ibis.cases(
        (z > max_quantity_robust_z, "outlier_quantity"),
        ((ratio > max_price_ratio) | (ratio < 1.0 / max_price_ratio), "outlier_price"),
        else_=ibis.null("string"),
    )
    scored = scored.mutate(
        _rule=scored._rule.fill_null(outlier), _opted=scored._opted.fill_null(False)
    )
    kept = scored.filter(scored._rule.isnull())
    no_user = scored.user_id.isnull()
    tally = (
        scored.group_by("_rule")
        .aggregate(
            rows=scored.count(),
            missing=no_user.cast("int64").sum(),
            opted=scored._opted.cast("int64").sum(),
        )
        .to_pandas()
    )
    by_rule = dict(zip(tally["_rule"].fillna("kept"), tally.to_dict("records"), strict=True))
    counts = {rule: int(by_rule.get(rule, {}).get("rows", 0)) for rule in LINE_RULES}
    out = by_rule.get("kept", {"rows": 0, "missing": 0, "opted": 0})
    rows, missing, opted = (int(out[k] or 0) for k in ("rows", "missing", "opted"))
    counts |= {
        "demand_rows_out": rows,
        "missing_customer": missing,
        "opted_out_users": opted,
        "customer_rows_out": rows - missing - opted,
    }
    demand = kept.mutate(user_id=ibis.ifelse(kept._opted, ibis.null("string"), kept.user_id))
    customer = kept.filter(kept.user_id.notnull() & ~kept._opted)
    return demand.select(*df.columns), customer.select(*df.columns), counts


def opted_out(users: ibis.Table) -> ibis.Table:
    """Ids of users who said no to personalization."""
    if "consent" not in users.columns:
        return users.select("user_id").limit(0)
    return users.filter(~users.consent).select("user_id").distinct()
