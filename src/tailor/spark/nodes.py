"""Data-engineering nodes on Spark: the same inputs, parameters, outputs and report as
``tailor.pipelines.data_engineering.nodes``; lines stay Spark DataFrames throughout."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tailor.campaigns import campaign_exposures
from tailor.pipelines.data_engineering.nodes import EVENT_TIME, OPTIONAL, as_of, cleaning_report
from tailor.schemas import conform_table as pandas_conform
from tailor.spark import cleaning
from tailor.spark.catalog import build_catalog
from tailor.spark.catalog import daily_demand as _daily_demand
from tailor.spark.contract import conform_table, empty_table
from tailor.spark.features import customer_features, ts_literal
from tailor.spark.session import get_spark
from tailor.splits import validation_cutoff

log = logging.getLogger(__name__)

Table = DataFrame | pd.DataFrame
LINE_COLUMNS = ["user_id", "item_id", "order_id", "ts", "quantity", "unit_price", "country"]


def validate_raw_tables(
    transactions: Table,
    users: Table,
    events: Table,
    email: Table,
    items: Table,
    suppression: Table,
    campaigns: Table,
    campaign_info: Table,
    campaign_responses: Table,
    sources: dict[str, Any],
    data_end: str | None = None,
) -> tuple[Table, ...]:
    """The contract on every raw table before anything is written (absent: empty, typed).

    Campaign tables are small (one row per exposure or campaign): they are conformed by the
    pandas contract and stay pandas frames. ``data_end``: as the pandas node (rows dated
    after it are dropped; the same dating columns).
    """
    spark = get_spark()
    _supported(sources)
    maps = {
        name: (sources.get(name) or {}).get("columns") or {} for name in ("transactions", *OPTIONAL)
    }
    raw = {"users": users, "events": events, "email": email, "items": items}
    raw["suppression"] = suppression
    small = {"campaigns": campaigns, "campaign_info": campaign_info}
    small["campaign_responses"] = campaign_responses
    lines = conform_table(transactions, "transactions", maps["transactions"], spark=spark)
    out: list[Table] = [_as_of(lines, "transactions", data_end)]
    for name in OPTIONAL:
        if name in small:
            frame = small[name]
            frame = frame if isinstance(frame, pd.DataFrame) else frame.toPandas()
            table = pandas_conform(frame, name, maps[name], optional=True)
            if data_end is not None:
                table = as_of(table, name, data_end)
            out.append(pd.DataFrame() if table is None else table)
            continue
        table = conform_table(raw[name], name, maps[name], optional=True, spark=spark)
        out.append(empty_table(spark, name) if table is None else _as_of(table, name, data_end))
        log.info("table %s: %s", name, "absent" if table is None else "present")
    return tuple(out)  # type: ignore[arg-type]


def _as_of(table: DataFrame, name: str, data_end: str | None) -> DataFrame:
    """``table`` without its rows dated after ``data_end`` (undated tables unchanged)."""
    col = EVENT_TIME.get(name)
    if data_end is None or col is None or col not in table.columns:
        return table
    log.info("data_end %s: table %s keeps the rows up to it", data_end, name)
    return table.where(F.col(col) <= ts_literal(pd.Timestamp(data_end)))


def _supported(sources: dict[str, Any]) -> None:
    """Contract features the Spark engine does not implement yet stop with their name."""
    for table, spec in sources.items():
        if (spec or {}).get("compose"):
            raise NotImplementedError(
                f"data_engineering.sources.{table}.compose is not supported by the Spark "
                "engine yet: compose the column in your export, or run a pandas environment"
            )
    if "line_total" in ((sources.get("transactions") or {}).get("columns") or {}).values():
        raise NotImplementedError(
            "transactions column 'line_total' is not supported by the Spark engine yet: "
            "map a unit price, or run a pandas environment"
        )


def _opted_out(users: DataFrame) -> DataFrame:
    if "consent" not in users.columns:
        return users.sparkSession.createDataFrame([], "user_id string")
    return users.where(~F.col("consent")).select("user_id")


def clean_transactions(
    transactions: DataFrame,
    users: DataFrame,
    suppression: DataFrame,
    params: dict[str, Any],
    split: dict[str, Any] | None = None,
) -> tuple[DataFrame, DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """The cleaning rules in the pandas order, with the same report and metrics; the lines
    up to the cut-off cleaned from those lines alone, as the pandas node does."""
    level = StorageLevel.MEMORY_AND_DISK
    if split is None:
        demand, customer, (steps, netting) = _clean(transactions, users, suppression, params)
        split_free = customer.agg(
            F.countDistinct("user_id").alias("users"), F.countDistinct("item_id").alias("items")
        ).first()
        report, metrics = cleaning_report(
            steps, netting, int(split_free["users"] or 0), int(split_free["items"] or 0)
        )
        return demand, customer, report, metrics
    cutoff = ts_literal(pd.Timestamp(split["cutoff"]))
    before = F.col("ts") <= cutoff
    demand_past, customer_past, _ = _clean(transactions.where(before), users, suppression, params)
    demand_all, customer_all, (steps, netting) = _clean(transactions, users, suppression, params)
    demand = demand_past.unionByName(demand_all.where(~before)).persist(level)
    customer = customer_past.unionByName(customer_all.where(~before)).persist(level)
    totals = customer.agg(
        F.count("*").alias("rows"),
        F.countDistinct("user_id").alias("users"),
        F.countDistinct("item_id").alias("items"),
    ).first()
    n_demand = demand.count()
    out = dict(demand_rows_out=n_demand, customer_rows_out=int(totals["rows"]))
    kept = n_demand - dict(steps)["demand_rows_out"]
    steps = [(s, out.get(s, n)) for s, n in steps]
    steps.insert(-1, ("kept_at_cutoff", kept))
    report, metrics = cleaning_report(
        steps, netting, int(totals["users"] or 0), int(totals["items"] or 0)
    )
    log.info("cleaning (spark): %s", ", ".join(f"{s}={r:,}" for s, r in steps))
    return demand, customer, report, metrics


def _clean(
    transactions: DataFrame,
    users: DataFrame,
    suppression: DataFrame,
    params: dict[str, Any],
) -> tuple[DataFrame, DataFrame, tuple[list[tuple[str, int]], dict[str, int]]]:
    """The cleaning rules on ``transactions``: demand lines, customer lines, report steps."""
    level = StorageLevel.MEMORY_AND_DISK
    rows_in = transactions.count()
    steps: list[tuple[str, int]] = [("rows_in", rows_in)]
    df = cleaning.with_row_order(transactions)
    df, n_dupes = cleaning.drop_exact_duplicates(df, rows_in)  # persisted
    steps.append(("exact_duplicates", n_dupes))
    df, n = cleaning.drop_users(df, suppression, rows_in - n_dupes)
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
    df, counts = cleaning.drop_non_positive(df.persist(level))
    steps += list(counts.items())
    df, n = cleaning.drop_non_product(df, params["non_product_item_ids"])
    steps.append(("non_product", n))
    df, counts = cleaning.drop_outliers(
        df, params["max_quantity_robust_z"], params["max_price_ratio"]
    )
    steps += list(counts.items())
    demand = df.select(*transactions.columns).persist(level)
    steps.append(("demand_rows_out", demand.count()))

    opted = F.broadcast(_opted_out(users).distinct())
    flagged = demand.join(opted.withColumn("_opted", F.lit(True)), "user_id", "left").select(
        *demand.columns, F.coalesce(F.col("_opted"), F.lit(False)).alias("_opted")
    )
    no_user = F.col("user_id").isNull()
    totals = flagged.agg(
        F.sum(no_user.cast("long")).alias("missing"),
        F.sum(F.col("_opted").cast("long")).alias("opted"),
        F.sum((~no_user & ~F.col("_opted")).cast("long")).alias("customer"),
    ).first()
    customer = flagged.where(~no_user & ~F.col("_opted")).drop("_opted")
    # as the pandas rule: opted-out customers' lines stay demand, without their id
    anonymous = F.when(F.col("_opted"), F.lit(None).cast("string")).otherwise(F.col("user_id"))
    demand = flagged.withColumn("user_id", anonymous).select(*demand.columns)
    steps.append(("missing_customer", int(totals["missing"] or 0)))
    steps.append(("opted_out_users", int(totals["opted"] or 0)))
    steps.append(("customer_rows_out", int(totals["customer"] or 0)))
    return demand, customer, (steps, netting)


def filter_sources(
    users: DataFrame,
    events: DataFrame,
    email: DataFrame,
    campaigns: pd.DataFrame,
    campaign_info: pd.DataFrame,
    campaign_responses: pd.DataFrame,
    suppression: DataFrame,
) -> tuple[DataFrame, DataFrame, DataFrame, pd.DataFrame]:
    """Drop suppressed and opted-out users from the optional per-user sources; campaign
    exposures are joined by the pandas rule (small tables) and filtered the same way."""
    gone = F.broadcast(suppression.select("user_id").unionByName(_opted_out(users)).distinct())
    big = tuple(
        t.join(gone, "user_id", "left_anti").select(*t.columns) for t in (users, events, email)
    )
    exposures = campaign_exposures(campaigns, campaign_info, campaign_responses)
    if not exposures.empty:
        gone_ids = {r[0] for r in gone.collect()}
        exposures = exposures[~exposures["user_id"].isin(gone_ids)].reset_index(drop=True)
    return (*big, exposures)  # type: ignore[return-value]


def _no_campaigns(campaigns: pd.DataFrame | None) -> None:
    if campaigns is not None and not campaigns.empty:
        raise NotImplementedError(
            "campaign features (raw_campaigns) are not computed by the Spark engine yet: "
            "leave raw_campaigns unset in a Spark environment, or run a pandas environment"
        )


def build_item_catalog(
    demand_lines: DataFrame, items: DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The catalog from all demand; per-item rows are few, so they finish in pandas."""
    given = None if items.isEmpty() else items.toPandas()
    return build_catalog(
        demand_lines, given, params["min_category_items"], params["category_stopwords"]
    )


def build_item_catalog_train(
    demand_lines: DataFrame, items: DataFrame, params: dict[str, Any], split: dict[str, Any]
) -> pd.DataFrame:
    """The catalog as of the cut-off (see the pandas node)."""
    cutoff = ts_literal(pd.Timestamp(split["cutoff"]))
    return build_item_catalog(demand_lines.where(F.col("ts") <= cutoff), items, params)


def split_bounds(interactions: DataFrame, split: dict[str, Any]) -> dict[str, str]:
    """The cut-off and the test window's end (see the pandas node)."""
    end = split.get("test_end") or interactions.agg(F.max("ts")).first()[0]
    return {"cutoff": str(pd.Timestamp(split["cutoff"])), "test_end": str(pd.Timestamp(end))}


def daily_demand(demand_lines: DataFrame) -> pd.DataFrame:
    return _daily_demand(demand_lines)


def interaction_lines(customer_lines: DataFrame) -> DataFrame:
    """The model-facing columns of customer lines in time order (what the split cuts)."""
    return customer_lines.select(*LINE_COLUMNS).orderBy("ts", "order_id", "item_id")


def split_interactions(
    interactions: DataFrame, split: dict[str, Any]
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame, dict[str, dict[str, float]]]:
    """Train ≤ cutoff < test, and inside train fit ≤ validation cutoff < validation."""
    cutoff = ts_literal(pd.Timestamp(split["cutoff"]))
    val_cut = ts_literal(validation_cutoff(split["cutoff"], split["validation_days"]))
    ts = F.col("ts")
    after = ts > cutoff
    if split.get("test_end") is not None:
        after = after & (ts <= ts_literal(pd.Timestamp(split["test_end"])))
    order = ["ts", "order_id", "item_id"]
    parts = {
        "train": interactions.where(ts <= cutoff),
        "test": interactions.where(after),
        "fit": interactions.where(ts <= val_cut),
        "validation": interactions.where((ts > val_cut) & (ts <= cutoff)),
    }
    tag = F.when(ts <= val_cut, "fit").when(ts <= cutoff, "validation").when(after, "test")
    sizes = (
        interactions.withColumn("_part", tag)
        .where(F.col("_part").isNotNull())
        .groupBy("_part")
        .agg(F.count("*").alias("rows"), F.countDistinct("user_id").alias("users"))
        .collect()
    )
    found = {r["_part"]: (int(r["rows"]), int(r["users"])) for r in sizes}
    train_users = parts["train"].select(F.countDistinct("user_id")).first()[0]
    counts = {
        "train": (found.get("fit", (0, 0))[0] + found.get("validation", (0, 0))[0], train_users),
        "test": found.get("test", (0, 0)),
        "fit": found.get("fit", (0, 0)),
        "validation": found.get("validation", (0, 0)),
    }
    metrics = {}
    for name, (rows, users) in counts.items():
        metrics[f"data/{name}_rows"] = {"value": float(rows), "step": 0}
        metrics[f"data/{name}_users"] = {"value": float(users), "step": 0}
    log.info("split (spark): %s", {k: v[0] for k, v in counts.items()})
    sort = {k: v.orderBy(*order) for k, v in parts.items()}
    return sort["train"], sort["test"], sort["fit"], sort["validation"], metrics


def user_item_matrix(train: DataFrame) -> DataFrame:
    """The training interaction matrix in long form: one row per (user, item) pair."""
    return (
        train.groupBy("user_id", "item_id")
        .agg(
            F.countDistinct("order_id").alias("n_orders"),
            F.sum("quantity").alias("quantity"),
            F.max("ts").alias("last_ts"),
        )
        .orderBy("user_id", "item_id")
    )


def features_at_validation_cutoff(
    lines: DataFrame,
    users: DataFrame,
    events: DataFrame,
    email: DataFrame,
    campaigns: pd.DataFrame,
    split: dict[str, Any],
) -> DataFrame:
    _no_campaigns(campaigns)
    as_of = validation_cutoff(split["cutoff"], split["validation_days"])
    return customer_features(lines, as_of, users=users, events=events, email=email)


def features_at_cutoff(
    lines: DataFrame,
    users: DataFrame,
    events: DataFrame,
    email: DataFrame,
    campaigns: pd.DataFrame,
    split: dict[str, Any],
) -> DataFrame:
    _no_campaigns(campaigns)
    return customer_features(lines, split["cutoff"], users=users, events=events, email=email)


def features_at_end(
    lines: DataFrame,
    users: DataFrame,
    events: DataFrame,
    email: DataFrame,
    campaigns: pd.DataFrame,
) -> DataFrame:
    _no_campaigns(campaigns)
    end = lines.agg(F.max("ts")).first()[0]
    return customer_features(lines, pd.Timestamp(end), users=users, events=events, email=email)
