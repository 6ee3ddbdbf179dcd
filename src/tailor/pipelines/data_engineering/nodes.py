"""Data-engineering nodes: validate, clean, derive catalog/features/interactions, split."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tailor import cleaning
from tailor.campaigns import campaign_exposures
from tailor.customer_features import customer_features
from tailor.item_catalog import build_catalog
from tailor.schemas import SCHEMAS, compose_columns, conform_table
from tailor.splits import split_by_time, validation_cutoff

log = logging.getLogger(__name__)

OPTIONAL = (
    "users", "events", "email", "items", "suppression",
    "campaigns", "campaign_info", "campaign_responses",
)  # fmt: skip


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in SCHEMAS[table].columns})


def validate_raw_tables(
    transactions: pd.DataFrame,
    users: pd.DataFrame,
    events: pd.DataFrame,
    email: pd.DataFrame,
    items: pd.DataFrame,
    suppression: pd.DataFrame,
    campaigns: pd.DataFrame,
    campaign_info: pd.DataFrame,
    campaign_responses: pd.DataFrame,
    sources: dict[str, Any],
    data_end: str | None = None,
) -> tuple[pd.DataFrame, ...]:
    """Conform every raw table to the data contract before anything is written.

    One node validates all tables, so a bad optional table stops the run before the
    cleaning writes its first output. Absent optional tables become empty frames.
    ``data_end`` (an instant, or None) keeps only what happened up to it: the run sees the
    shop as it was then (a replay, or the retraining loop's earlier state).
    """
    raw = {"transactions": transactions, "users": users, "events": events, "email": email}
    raw |= {"items": items, "suppression": suppression, "campaigns": campaigns}
    raw |= {"campaign_info": campaign_info, "campaign_responses": campaign_responses}
    names = ("transactions", *OPTIONAL)
    spec = {name: sources.get(name) or {} for name in names}
    tables = {
        name: conform_table(
            compose_columns(raw[name], spec[name].get("compose")),
            name,
            spec[name].get("columns") or {},
            optional=name != "transactions",
        )
        for name in names
    }
    if data_end is not None:
        tables = {name: as_of(table, name, data_end) for name, table in tables.items()}
    lines = tables["transactions"]
    if "country" not in lines:
        lines["country"] = None  # one-country shops need not say which
    out = [lines]
    for name in OPTIONAL:
        table = tables[name]
        out.append(_empty(name) if table is None else table)
        log.info("table %s: %s", name, "absent" if table is None else f"{len(table):,} rows")
    return tuple(out)


# The timestamp that dates each row of a table, for ``data_end``.
EVENT_TIME = {"transactions": "ts", "events": "ts", "email": "sent_ts"}


def as_of(table: pd.DataFrame | None, name: str, data_end: str) -> pd.DataFrame | None:
    """``table`` without its rows dated after ``data_end`` (undated tables unchanged)."""
    col = EVENT_TIME.get(name)
    if table is None or col is None or col not in table:
        return table
    kept = table[table[col] <= pd.Timestamp(data_end)].reset_index(drop=True)
    log.info("data_end %s: table %s keeps %d of %d rows", data_end, name, len(kept), len(table))
    return kept


def clean_transactions(
    transactions: pd.DataFrame,
    users: pd.DataFrame,
    suppression: pd.DataFrame,
    params: dict[str, Any],
    split: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """Apply the cleaning rules in order; return demand lines, customer lines and the report.

    Demand lines keep anonymous and opted-out customers' purchases (they are real demand),
    the opted-out ones without their id; customer lines, which feed every model, keep only
    consenting, identified customers.
    Suppressed (forgotten) users are removed from both before anything else.

    Point in time: the lines up to ``split.cutoff`` are cleaned from those lines alone (the
    outlier rules' medians, the cancellations seen by then), so nothing after the cut-off
    changes what training reads; the later lines are cleaned with everything. The report is
    the whole data's, plus the lines the cut-off kept (cancelled or judged outliers later).
    ``split`` None: one pass, no cut-off.
    """
    if split is None:  # no cut-off (a one-off cleaning): one pass over everything
        demand, customer, (steps, netting) = _clean(transactions, users, suppression, params)
        report, metrics = cleaning_report(
            steps, netting, customer["user_id"].nunique(), customer["item_id"].nunique()
        )
        return demand, customer, report, metrics
    cutoff = pd.Timestamp(split["cutoff"])
    past = transactions[transactions["ts"] <= cutoff]
    demand_past, customer_past, _ = _clean(past, users, suppression, params)
    demand_all, customer_all, (steps, netting) = _clean(transactions, users, suppression, params)
    demand = pd.concat([demand_past, demand_all[demand_all["ts"] > cutoff]], ignore_index=True)
    customer = pd.concat(
        [customer_past, customer_all[customer_all["ts"] > cutoff]], ignore_index=True
    )
    steps = [
        (s, len(demand) if s == "demand_rows_out" else len(customer) if s == "customer_rows_out"
         else n)
        for s, n in steps
    ]  # fmt: skip
    steps.insert(-1, ("kept_at_cutoff", len(demand) - len(demand_all)))
    report, metrics = cleaning_report(
        steps, netting, customer["user_id"].nunique(), customer["item_id"].nunique()
    )
    log.info("cleaning: %s", ", ".join(f"{s}={r:,}" for s, r in steps))
    return demand, customer, report, metrics


def _clean(
    transactions: pd.DataFrame,
    users: pd.DataFrame,
    suppression: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[list[tuple[str, int]], dict[str, int]]]:
    """The cleaning rules on ``transactions``: demand lines, customer lines, report steps."""
    steps: list[tuple[str, int]] = [("rows_in", len(transactions))]
    df, n = cleaning.drop_exact_duplicates(transactions)
    steps.append(("exact_duplicates", n))
    df, n = cleaning.drop_users(df, suppression["user_id"])
    steps.append(("suppressed_users", n))
    df, netting = cleaning.net_cancellations(df, params["cancellation_prefix"])
    steps.append(("cancellation_lines", netting["cancellation_lines"]))
    steps.append(
        (
            "cancelled_purchases",
            netting["purchase_lines_cancelled_exactly"]
            + netting["purchase_lines_cancelled_by_partial_netting"],
        )
    )
    df, counts = cleaning.drop_non_positive(df)
    steps += list(counts.items())
    df, n = cleaning.drop_non_product(df, params["non_product_item_ids"])
    steps.append(("non_product", n))
    df, counts = cleaning.drop_outliers(
        df, params["max_quantity_robust_z"], params["max_price_ratio"]
    )
    steps += list(counts.items())
    no_user = df["user_id"].isna()
    opt_mask = df["user_id"].isin(_opted_out(users))
    customer = df[~no_user & ~opt_mask].reset_index(drop=True)
    # Opted-out customers' purchases are real demand, but their id must reach nothing that
    # trains: they stay in the demand lines as anonymous lines (aggregated without an id).
    demand = df.assign(user_id=df["user_id"].where(~opt_mask, None))
    steps.append(("demand_rows_out", len(demand)))
    steps.append(("missing_customer", int(no_user.sum())))
    steps.append(("opted_out_users", int(opt_mask.sum())))
    steps.append(("customer_rows_out", len(customer)))
    return demand, customer, (steps, netting)


def cleaning_report(
    steps: list[tuple[str, int]], netting: dict[str, int], customers: int, items: int
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The cleaning report (step, rows, kind) and its MLflow metrics, for either engine."""
    report = pd.DataFrame(steps, columns=["step", "rows"])
    report["kind"] = report["step"].map(_kind)
    extra = pd.DataFrame(
        [(k, v, "info") for k, v in netting.items() if k != "cancellation_lines"],
        columns=["step", "rows", "kind"],
    )
    report = pd.concat([report, extra], ignore_index=True)
    metrics = {
        f"data/{s}": {"value": float(r), "step": 0}
        for s, r in zip(report["step"], report["rows"], strict=True)
    }
    metrics["data/customers"] = {"value": float(customers), "step": 0}
    metrics["data/items"] = {"value": float(items), "step": 0}
    return report, metrics


def _kind(step: str) -> str:
    if step in ("rows_in", "demand_rows_out", "customer_rows_out"):
        return "total"
    if step in ("missing_customer", "opted_out_users"):
        return "dropped_from_customer_data"
    if step == "kept_at_cutoff":  # lines before the cut-off only later data would drop
        return "kept"
    return "dropped"


def _opted_out(users: pd.DataFrame) -> set[str]:
    if users.empty or "consent" not in users:
        return set()
    return set(users.loc[~users["consent"].astype(bool), "user_id"])


def filter_sources(
    users: pd.DataFrame,
    events: pd.DataFrame,
    email: pd.DataFrame,
    campaigns: pd.DataFrame,
    campaign_info: pd.DataFrame,
    campaign_responses: pd.DataFrame,
    suppression: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Drop suppressed and opted-out users from the optional per-user sources.

    Campaign tables are joined into one exposure per (user, campaign) first.
    """
    gone = set(suppression["user_id"]) | _opted_out(users)
    exposures = campaign_exposures(campaigns, campaign_info, campaign_responses)
    tables = (users, events, email, exposures)
    return tuple(t[~t["user_id"].isin(gone)].reset_index(drop=True) for t in tables)  # type: ignore[return-value]


def build_item_catalog(
    demand_lines: pd.DataFrame, items: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The catalog from all demand (anonymous buyers too: they still show what sells):
    what serving ranks."""
    return build_catalog(
        demand_lines, items, params["min_category_items"], params["category_stopwords"]
    )


def build_item_catalog_train(
    demand_lines: pd.DataFrame, items: pd.DataFrame, params: dict[str, Any], split: dict[str, Any]
) -> pd.DataFrame:
    """The catalog as of the cut-off (modal price, description, categories from the demand
    up to it): what training and validation read, so no item fact of the test window does."""
    past = demand_lines[demand_lines["ts"] <= pd.Timestamp(split["cutoff"])]
    return build_item_catalog(past, items, params)


def split_bounds(interactions: pd.DataFrame, split: dict[str, Any]) -> dict[str, str]:
    """The cut-off and the test window's end (``split.test_end``, else the data's last
    timestamp): the one fact of the test window that training reads, its length, which
    sets the validation windows' default length."""
    end = split.get("test_end") or interactions["ts"].max()
    return {"cutoff": str(pd.Timestamp(split["cutoff"])), "test_end": str(pd.Timestamp(end))}


def daily_demand(demand_lines: pd.DataFrame) -> pd.DataFrame:
    """Orders, revenue, units and customers per calendar day; days without trade are 0."""
    d = demand_lines.assign(
        day=demand_lines["ts"].dt.normalize(),
        revenue=demand_lines["quantity"] * demand_lines["unit_price"],
    )
    out = d.groupby("day").agg(
        orders=("order_id", "nunique"),
        revenue=("revenue", "sum"),
        units=("quantity", "sum"),
        customers=("user_id", "nunique"),
    )
    full = pd.date_range(out.index.min(), out.index.max(), freq="D", name="day")
    out = out.reindex(full, fill_value=0)
    out["trading"] = out["orders"] > 0
    return out.reset_index().rename(columns={"day": "date"})


def interaction_lines(customer_lines: pd.DataFrame) -> pd.DataFrame:
    """The model-facing columns of customer lines in time order (what the split cuts)."""
    cols = ["user_id", "item_id", "order_id", "ts", "quantity", "unit_price", "country"]
    return customer_lines[cols].sort_values(["ts", "order_id"], kind="stable", ignore_index=True)


def split_interactions(
    interactions: pd.DataFrame, split: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """Train ≤ cutoff < test, and inside train fit ≤ validation cutoff < validation."""
    train, test = split_by_time(interactions, split["cutoff"], end=split.get("test_end"))
    val_cut = validation_cutoff(split["cutoff"], split["validation_days"])
    fit, val = split_by_time(train, val_cut)
    sizes = {"train": train, "test": test, "fit": fit, "validation": val}
    metrics = {}
    for name, frame in sizes.items():
        metrics[f"data/{name}_rows"] = {"value": float(len(frame)), "step": 0}
        metrics[f"data/{name}_users"] = {"value": float(frame["user_id"].nunique()), "step": 0}
    log.info("split: %s", {k: len(v) for k, v in sizes.items()})
    return train, test, fit, val, metrics


def user_item_matrix(train: pd.DataFrame) -> pd.DataFrame:
    """The training interaction matrix in long form: one row per (user, item) pair."""
    return (
        train.groupby(["user_id", "item_id"], sort=True)
        .agg(n_orders=("order_id", "nunique"), quantity=("quantity", "sum"), last_ts=("ts", "max"))
        .reset_index()
    )


def feature_instants(split: dict[str, Any], end: pd.Timestamp) -> list[pd.Timestamp]:
    """The instants of the three feature snapshots: the validation cutoff (tuning), the
    cutoff (training and evaluation) and the end of the data (serving)."""
    cutoff = pd.Timestamp(split["cutoff"])
    return [validation_cutoff(cutoff, split["validation_days"]), cutoff, pd.Timestamp(end)]


def customer_feature_snapshots(
    lines: pd.DataFrame,
    users: pd.DataFrame,
    events: pd.DataFrame,
    email: pd.DataFrame,
    campaigns: pd.DataFrame,
    split: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customer features at each of :func:`feature_instants`, each from data up to it."""
    instants = feature_instants(split, lines["ts"].max())
    val, train, serving = (
        customer_features(lines, at, users, events, email, campaigns) for at in instants
    )
    return val, train, serving
