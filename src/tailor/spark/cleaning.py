"""The cleaning rules of ``tailor.cleaning`` as Spark DataFrame code, with the same counts.

Each rule returns the kept rows and its count(s) like its pandas twin; the parity tests
(tests/spark/test_parity.py) run both on the same inputs. Cancellation netting is
sequential per (customer, item): Spark groups the lines of pairs that have cancellations
and runs the pandas rule itself on each group, so that rule has one definition.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tailor import cleaning

LINES_PER_BUCKET = 200_000  # lines netted by one pandas call (bounds a worker's memory)
ROW = "_row"  # input order: pandas' rules break ties by it, so ours do too
STATS = (
    "cancellation_lines",
    "purchase_lines_cancelled_exactly",
    "purchase_lines_cancelled_partly",
    "purchase_lines_cancelled_by_partial_netting",
    "cancellation_units_unmatched",
)


def with_row_order(df: DataFrame) -> DataFrame:
    """Number the lines in input order (a file scan's order, as pandas reads it)."""
    return df.withColumn(ROW, F.monotonically_increasing_id())


def drop_exact_duplicates(df: DataFrame, n_in: int | None = None) -> tuple[DataFrame, int]:
    """Lines identical in every column; the first in input order stays (pandas' keep='first')."""
    cols = [c for c in df.columns if c != ROW]
    if ROW not in df.columns:
        kept = df.dropDuplicates()
    else:
        kept = df.groupBy(*cols).agg(F.min(ROW).alias(ROW)).select(*df.columns)
    kept = kept.persist(StorageLevel.MEMORY_AND_DISK)
    return kept, (df.count() if n_in is None else n_in) - kept.count()


def drop_users(
    df: DataFrame, user_ids: DataFrame | Iterable[str], n_in: int | None = None
) -> tuple[DataFrame, int]:
    """Every line of the suppressed users (a null id is nobody's, as in pandas' isin)."""
    if not isinstance(user_ids, DataFrame):
        ids = sorted(set(user_ids))
        user_ids = df.sparkSession.createDataFrame([(u,) for u in ids], "user_id string")
    gone = user_ids.select("user_id").where(F.col("user_id").isNotNull()).distinct()
    kept = df.join(F.broadcast(gone), "user_id", "left_anti").select(*df.columns)
    return kept, (df.count() if n_in is None else n_in) - kept.count()


def is_cancellation(df: DataFrame, prefix: str | None) -> bool | F.Column:
    """As ``tailor.cleaning.is_cancellation``: the prefix and a negative quantity."""
    if not prefix:
        return F.lit(False)
    return F.col("order_id").cast("string").startswith(prefix) & (F.col("quantity") < 0)


def net_cancellations(df: DataFrame, prefix: str | None) -> tuple[DataFrame, dict[str, int]]:
    """``tailor.cleaning.net_cancellations``: each (customer, item) pair with a cancellation
    is netted by the pandas rule on its own lines; the other lines pass untouched."""
    key = F.coalesce(F.col("user_id"), F.lit(cleaning.NO_USER))
    keyed = df.withColumn("_pair_user", key)
    cancel = is_cancellation(keyed, prefix)
    pairs = keyed.where(cancel).select("_pair_user", "item_id").distinct()
    involved = keyed.join(pairs, ["_pair_user", "item_id"], "left_semi")
    untouched = keyed.join(pairs, ["_pair_user", "item_id"], "left_anti").select(*df.columns)

    # Pairs are independent, so whole pairs are hashed into buckets and each bucket is
    # netted by one call of the pandas rule (one call per pair would cost ~ms each).
    n_lines = involved.count()
    buckets = max(1, -(-n_lines // LINES_PER_BUCKET))
    bucket = F.pmod(F.xxhash64("_pair_user", "item_id"), F.lit(buckets))
    columns = list(df.columns)
    out_schema = T.StructType(
        [T.StructField(f.name, f.dataType, True) for f in df.schema.fields]
        + [T.StructField(s, T.LongType(), True) for s in STATS]
        + [T.StructField("_is_stats", T.BooleanType(), False)]
    )

    def net_bucket(group: pd.DataFrame) -> pd.DataFrame:
        if ROW in group:
            group = group.sort_values(ROW, kind="stable")
        kept, stats = cleaning.net_cancellations(group[columns].reset_index(drop=True), prefix)
        out = kept.assign(**{s: None for s in STATS}, _is_stats=False)
        summary = {c: None for c in columns} | {s: int(stats[s]) for s in STATS}
        summary["_is_stats"] = True
        row = pd.DataFrame([summary])
        both = row if out.empty else pd.concat([out, row], ignore_index=True)
        return both[out_schema.names]

    netted = (
        involved.withColumn("_bucket", bucket)
        .groupBy("_bucket")
        .applyInPandas(net_bucket, out_schema)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    totals = netted.where("_is_stats").agg(*[F.sum(s).alias(s) for s in STATS]).first()
    stats = {s: int((totals[s] if totals is not None else 0) or 0) for s in STATS}
    kept = netted.where(~F.col("_is_stats")).select(*columns)
    return untouched.unionByName(kept), stats


def drop_non_positive(df: DataFrame) -> tuple[DataFrame, dict[str, int]]:
    """Quantity <= 0, or else price <= 0 (a line bad on both counts once, under quantity)."""
    bad_qty = F.col("quantity") <= 0
    bad_price = (F.col("unit_price") <= 0) & ~bad_qty
    counts = df.agg(
        F.sum(F.when(bad_qty, 1).otherwise(0)).alias("q"),
        F.sum(F.when(bad_price, 1).otherwise(0)).alias("p"),
    ).first()
    kept = df.where(~(bad_qty | bad_price))
    return kept, {
        "non_positive_quantity": int(counts["q"] or 0),
        "non_positive_price": int(counts["p"] or 0),
    }


def non_product_regex(patterns: list[str]) -> str:
    """The pandas rule's full, case-insensitive match as one Java regular expression."""
    return "(?iu)\\A(?:" + "|".join(f"(?:{p})" for p in patterns) + ")\\z"


def drop_non_product(df: DataFrame, patterns: list[str]) -> tuple[DataFrame, int]:
    if not patterns:
        return df, 0
    mask = F.col("item_id").cast("string").rlike(non_product_regex(patterns))
    n = df.where(mask).count()
    return df.where(~mask), n


def drop_outliers(
    df: DataFrame, max_quantity_robust_z: float, max_price_ratio: float
) -> tuple[DataFrame, dict[str, int]]:
    """Robust z of log(quantity) over all lines, and price vs the item's median price.

    Spark's exact ``percentile`` interpolates like numpy's median; it keeps a count per
    distinct value, which stays small for quantities and per-item prices.
    """
    logq = F.log(F.col("quantity"))
    med = df.agg(F.percentile(logq, 0.5).alias("m")).first()["m"]
    med = 0.0 if med is None else float(med)
    mad = df.agg(F.percentile(F.abs(logq - F.lit(med)), 0.5).alias("m")).first()["m"]
    mad = 1.4826 * float(mad) if mad is not None else 1.0
    z = (logq - F.lit(med)) / F.lit(mad if mad > 0 else 1.0)
    item_median = df.groupBy("item_id").agg(F.percentile("unit_price", 0.5).alias("_median"))
    scored = df.join(item_median, "item_id").withColumn("_qty_out", z > max_quantity_robust_z)
    ratio = F.col("unit_price") / F.col("_median")
    scored = scored.withColumn(
        "_price_out",
        ((ratio > max_price_ratio) | (ratio < 1.0 / max_price_ratio)) & ~F.col("_qty_out"),
    ).persist()
    counts = scored.agg(
        F.sum(F.col("_qty_out").cast("long")).alias("q"),
        F.sum(F.col("_price_out").cast("long")).alias("p"),
    ).first()
    kept = scored.where(~(F.col("_qty_out") | F.col("_price_out"))).select(*df.columns)
    return kept, {
        "outlier_quantity": int(counts["q"] or 0),
        "outlier_price": int(counts["p"] or 0),
    }
