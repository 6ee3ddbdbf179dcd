"""Spark MLlib ALS (implicit feedback) as a recommender candidate of the Spark engine.

Confidences follow the ``implicit`` candidate's ``log`` weighting: log1p(orders of the
pair), decayed by a half-life counted back from the last day of training. Ids are indexed
alphabetically (``StringIndexer``), so a refit on the same data ranks the same way.
Top-k is exact: item factors are broadcast and every user's items scored, bought items
excluded, ties broken by item id, as ``Recommender.recommend`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.feature import StringIndexer, StringIndexerModel
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

TOPK_SCHEMA = "u int, rank int, i int, score double"


@dataclass
class SparkAls:
    """A fitted ALS model with its id indexers and the training pairs (for exclusion)."""

    model: ALSModel
    users: StringIndexerModel
    items: StringIndexerModel
    pairs: DataFrame  # (u, i, rating) of training


MICROS_PER_DAY = 86_400_000_000


def days_between(later: Column, earlier: Column) -> Column:
    """(later - earlier) in days, as a float (pandas: Timedelta / 1 day)."""
    micros = F.unix_micros(later.cast("timestamp")) - F.unix_micros(earlier.cast("timestamp"))
    return micros.cast("double") / F.lit(float(MICROS_PER_DAY))


def confidences(lines: DataFrame, half_life_days: float | None) -> DataFrame:
    """(user_id, item_id, rating): log1p(orders), halved every ``half_life_days`` of age."""
    as_of = lines.agg(F.max("ts")).first()[0]
    pairs = lines.groupBy("user_id", "item_id").agg(
        F.countDistinct("order_id").alias("n"), F.max("ts").alias("last_ts")
    )
    rating = F.log1p(F.col("n").cast("double"))
    if half_life_days:
        age = F.greatest(
            days_between(F.lit(as_of).cast("timestamp_ntz"), F.col("last_ts")), F.lit(0.0)
        )
        rating = rating * F.pow(F.lit(0.5), age / F.lit(float(half_life_days)))
    return pairs.select("user_id", "item_id", rating.alias("rating"))


def fit_als(lines: DataFrame, params: dict[str, Any], seed: int) -> SparkAls:
    """Fit ALS(implicitPrefs=True) on interaction lines with ``params`` (factors,
    regularization, alpha, iterations, half_life_days)."""
    ratings = confidences(lines, params.get("half_life_days"))
    users = StringIndexer(inputCol="user_id", outputCol="u", stringOrderType="alphabetAsc").fit(
        ratings
    )
    items = StringIndexer(inputCol="item_id", outputCol="i", stringOrderType="alphabetAsc").fit(
        ratings
    )
    indexed = (
        items.transform(users.transform(ratings))
        .select(F.col("u").cast("int"), F.col("i").cast("int"), "rating")
        .persist()
    )
    als = ALS(
        rank=int(params.get("factors", 64)),
        regParam=float(params.get("regularization", 0.1)),
        alpha=float(params.get("alpha", 10.0)),
        maxIter=int(params.get("iterations", 10)),
        implicitPrefs=True,
        userCol="u",
        itemCol="i",
        ratingCol="rating",
        seed=int(seed),
        coldStartStrategy="drop",
        numUserBlocks=int(params.get("blocks", 4)),
        numItemBlocks=int(params.get("blocks", 4)),
    )
    return SparkAls(als.fit(indexed), users, items, indexed)


def top_k(fitted: SparkAls, k: int) -> DataFrame:
    """(user_id, rank, item_id, score) for every training user: the batch table."""
    spark = fitted.pairs.sparkSession
    item_f = fitted.model.itemFactors.toPandas().sort_values("id")
    item_idx = item_f["id"].to_numpy(dtype=np.int64)
    factors = np.vstack(item_f["features"].to_numpy()).astype(np.float64)
    shared = spark.sparkContext.broadcast((item_idx, factors))
    kk = int(min(k, len(item_idx)))
    seen = fitted.pairs.groupBy("u").agg(F.collect_list("i").alias("seen"))
    users = fitted.model.userFactors.withColumnRenamed("id", "u").join(seen, "u", "left")

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        idx, v = shared.value
        position = {int(i): p for p, i in enumerate(idx)}
        for batch in batches:
            if batch.empty:
                continue
            s = np.vstack(batch["features"].to_numpy()).astype(np.float64) @ v.T
            for row, items in enumerate(batch["seen"]):
                if items is not None and len(items):
                    s[row, [position[int(i)] for i in items if int(i) in position]] = -np.inf
            # best first; ties by item index (alphabetical id), like Recommender.recommend
            order = np.argsort(-s, axis=1, kind="stable")[:, :kk]
            top = np.take_along_axis(s, order, axis=1)
            n = len(batch)
            out = pd.DataFrame(
                {
                    "u": np.repeat(batch["u"].to_numpy(dtype=np.int32), kk),
                    "rank": np.tile(np.arange(1, kk + 1, dtype=np.int32), n),
                    "i": idx[order].ravel().astype(np.int32),
                    "score": top.ravel(),
                }
            )
            yield out[np.isfinite(out["score"])]

    recs = users.mapInPandas(score, TOPK_SCHEMA)
    user_ids = spark.createDataFrame(list(enumerate(fitted.users.labels)), "u int, user_id string")
    item_ids = spark.createDataFrame(list(enumerate(fitted.items.labels)), "i int, item_id string")
    return (
        recs.join(F.broadcast(item_ids), "i")
        .join(user_ids, "u")
        .select("user_id", "rank", "item_id", "score")
    )
