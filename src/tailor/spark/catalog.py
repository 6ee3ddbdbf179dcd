"""Item catalog and daily demand on Spark: the line scans are Spark aggregations, and the
per-item / per-day tables they reduce to (small at any scale) are finished by the pandas
module's own text and category rules (``tailor.item_catalog``)."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tailor.item_catalog import finish_catalog
from tailor.spark.features import modal_by


def item_stats(lines: DataFrame) -> pd.DataFrame:
    """Per item: orders, buyers, units, modal price and modal description (pandas, by id)."""
    stats = lines.groupBy("item_id").agg(
        F.countDistinct("order_id").alias("n_orders"),
        F.countDistinct("user_id").alias("n_buyers"),
        F.sum("quantity").alias("units"),
    )
    stats = stats.join(
        modal_by(lines, "item_id", "unit_price").withColumnRenamed("unit_price", "price"),
        "item_id",
        "left",
    )
    if "description" in lines.columns:
        stats = stats.join(modal_by(lines, "item_id", "description"), "item_id", "left")
    else:
        stats = stats.withColumn("description", F.lit(None).cast("string"))
    frame = stats.toPandas().set_index("item_id").sort_index()
    frame["description"] = (
        frame["description"].astype(object).where(frame["description"].notna(), None)
    )
    return frame


def build_catalog(
    lines: DataFrame,
    items: pd.DataFrame | None,
    min_category_items: int,
    category_stopwords: list[str],
) -> pd.DataFrame:
    """``tailor.item_catalog.build_catalog`` with the line aggregation done by Spark."""
    stats = item_stats(lines)
    return finish_catalog(stats, items, min_category_items, category_stopwords)


def daily_demand(demand_lines: DataFrame) -> pd.DataFrame:
    """Orders, revenue, units and customers per calendar day; days without trade are 0."""
    per_day = (
        demand_lines.withColumn("day", F.date_trunc("day", F.col("ts")).cast("timestamp_ntz"))
        .groupBy("day")
        .agg(
            F.countDistinct("order_id").alias("orders"),
            F.sum(F.col("quantity") * F.col("unit_price")).alias("revenue"),
            F.sum("quantity").alias("units"),
            F.countDistinct("user_id").alias("customers"),
        )
        .toPandas()
    )
    per_day["day"] = pd.to_datetime(per_day["day"]).astype("datetime64[ns]")
    out = per_day.set_index("day").sort_index()
    full = pd.date_range(out.index.min(), out.index.max(), freq="D", name="day")
    out = out.reindex(full, fill_value=0)
    out["trading"] = out["orders"] > 0
    return out.reset_index().rename(columns={"day": "date"})
