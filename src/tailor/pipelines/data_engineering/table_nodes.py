"""Data-engineering nodes on Ibis tables: the backend of the run (embedded DuckDB by
default) does the work; the same inputs, parameters, outputs and report as before.

Line tables stay in the backend and are written by :class:`tailor.datasets.TableDataset`
(streamed to Parquet); per-customer, per-item and per-day tables come back as pandas.
"""

from __future__ import annotations

import logging
from typing import Any

import ibis
import pandas as pd

from tailor.campaigns import campaign_exposures
from tailor.pipelines.data_engineering.nodes import (
    EVENT_TIME,
    OPTIONAL,
    cleaning_report,
    feature_instants,
)
from tailor.tables import aggregates, features
from tailor.tables import backend as be
from tailor.tables import cleaning as rules
from tailor.tables.backend import ROW
from tailor.tables.contract import conform_table, empty_table

log = logging.getLogger(__name__)

SMALL = ("items", "campaigns", "campaign_info", "campaign_responses")  # handed on as pandas


def validate_raw_tables(
    transactions: Any,
    users: Any,
    events: Any,
    email: Any,
    items: Any,
    suppression: Any,
    campaigns: Any,
    campaign_info: Any,
    campaign_responses: Any,
    sources: dict[str, Any],
    data_end: str | None = None,
) -> tuple[Any, ...]:
    """Conform every raw table to the data contract before anything is written.

    Absent optional tables become empty typed tables. ``data_end`` (an instant, or None)
    keeps only what happened up to it. Items and campaign tables (one row per item or
    exposure) are handed on as pandas frames.
    """
    raw = {"transactions": transactions, "users": users, "events": events, "email": email}
    raw |= {"items": items, "suppression": suppression, "campaigns": campaigns}
    raw |= {"campaign_info": campaign_info, "campaign_responses": campaign_responses}
    be.adopt(*raw.values())
    tables = {}
    for name in ("transactions", *OPTIONAL):
        spec = sources.get(name) or {}
        tables[name] = conform_table(
            raw[name],
            name,
            spec.get("columns") or {},
            optional=name != "transactions",
            compose=spec.get("compose"),
        )
        if data_end is not None and tables[name] is not None:
            tables[name] = as_of(tables[name], name, data_end)
    lines = tables["transactions"]
    if "country" not in lines.columns:
        lines = lines.mutate(country=ibis.null("string"))  # one-country shops need not say
    lines = lines.cache()  # typed once: the cleaning reads it several times
    out: list[Any] = [lines]
    for name in OPTIONAL:
        table = tables[name]
        log.info("table %s: %s", name, "absent" if table is None else "present")
        if name in SMALL:
            out.append(_empty_frame(name) if table is None else table.drop(ROW).to_pandas())
        else:
            out.append(empty_table(name) if table is None else table)
    return tuple(out)


def _empty_frame(table: str) -> pd.DataFrame:
    return empty_table(table).drop(ROW).to_pandas().astype(object)


def as_of(table: ibis.Table, name: str, data_end: str) -> ibis.Table:
    """``table`` without its rows dated after ``data_end`` (undated tables unchanged)."""
    col = EVENT_TIME.get(name)
    if col is None or col not in table.columns:
        return table
    return table.filter(table[col] <= be.ts_literal(data_end))


def clean_transactions(
    transactions: ibis.Table,
    users: ibis.Table,
    suppression: ibis.Table,
    params: dict[str, Any],
    split: dict[str, Any] | None = None,
) -> tuple[ibis.Table, ibis.Table, pd.DataFrame, dict[str, dict[str, float]]]:
    """The cleaning rules in order; demand lines, customer lines and the report.

    Demand lines keep anonymous and opted-out customers' purchases (real demand), the
    opted-out ones without their id; customer lines keep consenting, identified customers.
    Suppressed (forgotten) users are removed from both before anything else.

    Point in time: the lines up to ``split.cutoff`` are cleaned from those lines alone, the
    later ones with everything; the report is the whole data's plus ``kept_at_cutoff``
    (as :func:`tailor.pipelines.data_engineering.nodes.clean_transactions`). The later
    lines follow the earlier ones in input order, as pandas concatenates them.
    """
    rows, steps = _row_rules(transactions, suppression)
    if split is None:
        demand, customer, netting = _clean(rows, steps, users, params)
        return (demand, customer, *_report(steps, netting, customer))
    # Duplicates share their timestamp and suppression is per line: both rules give the
    # same lines up to the cut-off whether they see the later lines or not.
    past = rows.filter(rows.ts <= be.ts_literal(split["cutoff"]))
    demand_past, customer_past, _ = _clean(past, [], users, params)
    demand_all, customer_all, netting = _clean(rows, steps, users, params)
    offset = int(be.scalar(transactions[ROW].max()) or 0) + 1

    def later(t: ibis.Table) -> ibis.Table:
        t = t.filter(t.ts > be.ts_literal(split["cutoff"]))
        return t.mutate(**{ROW: t[ROW] + offset})

    demand = demand_past.union(later(demand_all)).cache()
    customer = customer_past.union(later(customer_all)).cache()
    out = {"demand_rows_out": be.count(demand), "customer_rows_out": be.count(customer)}
    kept = out["demand_rows_out"] - dict(steps)["demand_rows_out"]
    steps = [(s, out.get(s, n)) for s, n in steps]
    steps.insert(-1, ("kept_at_cutoff", kept))
    return (demand, customer, *_report(steps, netting, customer))


def _row_rules(
    transactions: ibis.Table, suppression: ibis.Table
) -> tuple[ibis.Table, list[tuple[str, int]]]:
    """Exact duplicates and suppressed users: the rules that look at no other line's time."""
    steps: list[tuple[str, int]] = [("rows_in", be.count(transactions))]
    df, n = rules.drop_exact_duplicates(transactions)
    steps.append(("exact_duplicates", n))
    df, n = rules.drop_users(df, suppression)
    steps.append(("suppressed_users", n))
    return df, steps


def _clean(
    df: ibis.Table, steps: list[tuple[str, int]], users: ibis.Table, params: dict[str, Any]
) -> tuple[ibis.Table, ibis.Table, dict[str, int]]:
    """The other cleaning rules, in order, on the lines :func:`_row_rules` kept: demand
    lines, customer lines, netting counts; the report's steps are appended to ``steps``."""
    df, netting = rules.net_cancellations(df, params["cancellation_prefix"])
    steps.append(("cancellation_lines", netting["cancellation_lines"]))
    cancelled = netting["purchase_lines_cancelled_exactly"]
    cancelled += netting["purchase_lines_cancelled_by_partial_netting"]
    steps.append(("cancelled_purchases", cancelled))
    demand, customer, counts = rules.line_rules(
        df,
        params["non_product_item_ids"],
        params["max_quantity_robust_z"],
        params["max_price_ratio"],
        users,
    )
    steps += list(counts.items())
    return demand, customer, netting


def _report(
    steps: list[tuple[str, int]], netting: dict[str, int], customer: ibis.Table
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    sizes = customer.aggregate(u=customer.user_id.nunique(), i=customer.item_id.nunique())
    size = sizes.to_pyarrow().to_pylist()[0]
    log.info("cleaning: %s", ", ".join(f"{s}={r:,}" for s, r in steps))
    return cleaning_report(steps, netting, int(size["u"]), int(size["i"]))


def filter_sources(
    users: ibis.Table,
    events: ibis.Table,
    email: ibis.Table,
    campaigns: pd.DataFrame,
    campaign_info: pd.DataFrame,
    campaign_responses: pd.DataFrame,
    suppression: ibis.Table,
) -> tuple[ibis.Table, ibis.Table, ibis.Table, pd.DataFrame]:
    """Drop suppressed and opted-out users from the optional per-user sources.

    Campaign tables are joined into one exposure per (user, campaign) first.
    """
    gone = suppression.select("user_id").union(rules.opted_out(users)).distinct()
    keep = [t.anti_join(gone, "user_id").select(*t.columns) for t in (users, events, email)]
    ids = set(gone.to_pandas()["user_id"])
    exposures = campaign_exposures(campaigns, campaign_info, campaign_responses)
    exposures = exposures[~exposures["user_id"].isin(ids)].reset_index(drop=True)
    return keep[0], keep[1], keep[2], exposures


def build_item_catalog(
    demand_lines: ibis.Table, items: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The catalog from all demand (anonymous buyers too: they still show what sells)."""
    return aggregates.build_catalog(
        demand_lines, items, params["min_category_items"], params["category_stopwords"]
    )


def build_item_catalog_train(
    demand_lines: ibis.Table, items: pd.DataFrame, params: dict[str, Any], split: dict[str, Any]
) -> pd.DataFrame:
    """The catalog as of the cut-off: what training and validation read."""
    past = demand_lines.filter(demand_lines.ts <= be.ts_literal(split["cutoff"]))
    return build_item_catalog(past, items, params)


def split_bounds(interactions: ibis.Table, split: dict[str, Any]) -> dict[str, str]:
    """The cut-off and the test window's end (``split.test_end``, else the data's last
    timestamp): the one fact of the test window that training reads, its length."""
    end = split.get("test_end") or be.max_ts(interactions.ts)
    return {"cutoff": str(pd.Timestamp(split["cutoff"])), "test_end": str(pd.Timestamp(end))}


def daily_demand(demand_lines: ibis.Table) -> pd.DataFrame:
    return aggregates.daily_demand(demand_lines)


def interaction_lines(customer_lines: ibis.Table) -> ibis.Table:
    return aggregates.interaction_lines(customer_lines)


def split_interactions(
    interactions: ibis.Table, split: dict[str, Any]
) -> tuple[ibis.Table, ibis.Table, ibis.Table, ibis.Table, dict[str, dict[str, float]]]:
    """Train <= cutoff < test, and inside train fit <= validation cutoff < validation."""
    *parts, metrics = aggregates.split_interactions(interactions, split)
    log.info("split: %s", {k: v["value"] for k, v in metrics.items() if k.endswith("_rows")})
    return (*parts, metrics)  # type: ignore[return-value]


def user_item_matrix(train: ibis.Table) -> ibis.Table:
    return aggregates.user_item_matrix(train).order_by(["user_id", "item_id"])


def customer_feature_snapshots(
    lines: ibis.Table,
    users: ibis.Table,
    events: ibis.Table,
    email: ibis.Table,
    campaigns: pd.DataFrame,
    split: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customer features at each of :func:`feature_instants`, each from data up to it;
    events and e-mail are scanned once for the three, the lines once per instant."""
    instants = feature_instants(split, be.max_ts(lines.ts))
    val, train, serving = features.customer_features_at(
        lines, instants, users, events, email, campaigns
    )
    return val, train, serving


# Written tables: the row order the pandas pipeline gave them, without the order column.
def in_input_order(table: ibis.Table) -> ibis.Table:
    return table.order_by(ROW).drop(ROW)


def in_time_order(table: ibis.Table) -> ibis.Table:
    return table.order_by(["ts", "order_id", ROW]).drop(ROW)
