"""Point-in-time customer features (``tailor.customer_features``) as Spark DataFrame code.

Same columns, same order, same definitions: only lines at or before ``as_of`` are read.
Durations are exact: microsecond differences divided by a day, as pandas divides
Timedeltas.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

MICROS_PER_DAY = 86_400 * 1_000_000
EVENT_TYPES = ("view", "add_to_cart", "search", "purchase")


def ts_literal(as_of: pd.Timestamp) -> Column:
    return F.lit(as_of.to_pydatetime()).cast("timestamp_ntz")


def days_between(later: Column, earlier: Column) -> Column:
    """(later - earlier) in days, as a float (pandas: Timedelta / 1 day)."""
    micros = F.unix_micros(later.cast("timestamp")) - F.unix_micros(earlier.cast("timestamp"))
    return micros.cast("double") / F.lit(float(MICROS_PER_DAY))


def modal_by(df: DataFrame, key: str, col: str) -> DataFrame:
    """Most frequent non-null ``col`` per ``key``; ties go to the smallest value."""
    counts = df.where(F.col(col).isNotNull()).groupBy(key, col).count()
    rank = Window.partitionBy(key).orderBy(F.col("count").desc(), F.col(col).asc())
    return counts.withColumn("_rank", F.row_number().over(rank)).where("_rank = 1").select(key, col)


def _purchase_features(lines: DataFrame, as_of: pd.Timestamp) -> DataFrame:
    lines = lines.withColumn("value", F.col("quantity") * F.col("unit_price")).withColumn(
        "day", F.date_trunc("day", F.col("ts")).cast("timestamp_ntz")
    )
    # Three per-user aggregations (orders, distinct days, lines) instead of one with four
    # distinct counts, which Spark expands into a copy of every line per distinct column.
    per_order = (
        lines.groupBy("user_id", "order_id")
        .agg(F.countDistinct("item_id").alias("n_lines"), F.sum("quantity").alias("units"))
        .groupBy("user_id")
        .agg(
            F.count("*").alias("frequency"),
            F.avg("n_lines").alias("basket_size"),
            F.avg("units").alias("basket_units"),
        )
    )
    users = lines.groupBy("user_id").agg(
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
        F.sum("value").alias("monetary"),
        F.countDistinct("item_id").alias("n_items"),
    )
    country = modal_by(lines, "user_id", "country")
    days = lines.select("user_id", "day").distinct()
    by_day = Window.partitionBy("user_id").orderBy("day")
    # a customer's first day has no gap (null), which the interval statistics skip
    gaps = (
        days.withColumn("_gap", F.datediff(F.col("day"), F.lag("day").over(by_day)))
        .groupBy("user_id")
        .agg(
            F.count("*").alias("purchase_days"),
            F.avg("_gap").alias("interval_mean"),
            F.percentile(F.col("_gap"), 0.5).alias("interval_median"),
            F.stddev_samp("_gap").alias("interval_std"),
        )
    )
    at = ts_literal(as_of)
    return (
        users.join(country, "user_id", "left")
        .withColumn("country", F.coalesce(F.col("country"), F.lit("Unknown")))
        .join(per_order, "user_id")
        .join(gaps, "user_id")
        .withColumn("recency_days", days_between(at, F.col("last_ts")))
        .withColumn("tenure_days", days_between(at, F.col("first_ts")))
        .withColumn("avg_order_value", F.col("monetary") / F.col("frequency"))
    )


def _event_features(events: DataFrame) -> tuple[DataFrame, list[str]]:
    present = sorted(r[0] for r in events.select("event_type").distinct().collect())
    # one pass over the events per user: counts by type and the channel/device shares
    per_user = [F.sum((F.col("event_type") == t).cast("long")).alias(f"n_{t}") for t in present]
    shares = []
    for col, value, share in (
        ("channel", "app", "app_share"),
        ("device", "mobile", "mobile_share"),
    ):
        if col in events.columns:
            # a missing channel counts as "not app" (pandas: NaN == 'app' is False)
            hit = F.coalesce(F.col(col) == value, F.lit(False)).cast("double")
            per_user.append(F.avg(hit).alias(share))
            shares.append(share)
    counts = (
        events.groupBy("user_id").agg(*per_user)
        if per_user
        else events.select("user_id").distinct()
    )
    names = [f"n_{t}" for t in present] + [f"n_{t}" for t in EVENT_TYPES if t not in present]
    for t in EVENT_TYPES:
        if t not in present:
            counts = counts.withColumn(f"n_{t}", F.lit(0).cast("long"))
    sessions = (
        events.groupBy("user_id", "session_id")
        .agg(
            F.max((F.col("event_type") == "add_to_cart").cast("int")).alias("carted"),
            F.max((F.col("event_type") == "purchase").cast("int")).alias("bought"),
        )
        .groupBy("user_id")
        .agg(
            F.count("*").alias("n_sessions"),
            F.sum(((F.col("carted") == 1) & (F.col("bought") == 0)).cast("long")).alias(
                "cart_abandon_sessions"
            ),
        )
    )
    out = counts.join(sessions, "user_id", "left")
    return out, [*names, "n_sessions", "cart_abandon_sessions", *shares]


def customer_features(
    lines: DataFrame,
    as_of: str | pd.Timestamp,
    users: DataFrame | None = None,
    events: DataFrame | None = None,
    email: DataFrame | None = None,
) -> DataFrame:
    """One row per customer who bought at or before ``as_of``, sorted by user id."""
    as_of = pd.Timestamp(as_of)
    at = ts_literal(as_of)
    past = lines.where(F.col("ts") <= at)
    out = _purchase_features(past, as_of)
    columns = [
        "user_id", "first_ts", "last_ts", "frequency", "purchase_days", "monetary", "n_items",
        "country", "basket_size", "basket_units", "interval_mean", "interval_median",
        "interval_std", "recency_days", "tenure_days", "avg_order_value",
    ]  # fmt: skip
    # the customers with a line by as_of (out's rows), without re-planning out's aggregates
    buyers = past.select("user_id").distinct()
    if events is not None and not events.isEmpty():
        ev = events.where(F.col("ts") <= at).join(buyers, "user_id", "left_semi")
        feats, names = _event_features(ev)
        out = out.join(feats, "user_id", "left")
        columns += names
    if email is not None and not email.isEmpty():
        em = email.where(F.col("sent_ts") <= at).join(buyers, "user_id", "left_semi")
        rates = em.groupBy("user_id").agg(
            F.count("*").alias("emails_received"),
            F.avg(F.col("opened").cast("double")).alias("email_open_rate"),
            F.avg(F.col("clicked").cast("double")).alias("email_click_rate"),
        )
        out = out.join(rates, "user_id", "left")
        columns += ["emails_received", "email_open_rate", "email_click_rate"]
    if users is not None and not users.isEmpty():
        # the pandas order (tailor.customer_features): bands as given, then the age
        cols = [c for c in ("gender", "location", "income", "household_size") if c in users.columns]
        extra = [F.col(c) for c in cols]
        if "age" in users.columns:
            # a number where every given value is one, else a band (text), as in pandas
            age = F.col("age")
            banded = users.where(age.isNotNull() & age.cast("double").isNull()).limit(1).count()
            name = "age_band" if banded else "age"
            extra.append(age.alias(name) if banded else age.cast("double").alias(name))
            cols.append(name)
        if "signup_ts" in users.columns:
            extra.append(F.col("signup_ts"))
        out = out.join(users.select("user_id", *extra), "user_id", "left")
        columns += cols
        if "signup_ts" in users.columns:
            signup = F.when(F.col("signup_ts") <= at, F.col("signup_ts"))
            out = out.withColumn("days_since_signup", days_between(at, signup))
            columns.append("days_since_signup")
    counts = [c for c in columns if c.startswith("n_") or c.endswith("_sessions")]
    for c in counts:
        out = out.withColumn(c, F.coalesce(F.col(c), F.lit(0)).cast("long"))
    out = out.withColumn("as_of", at)
    return out.select("user_id", "as_of", *columns[1:]).orderBy("user_id")
