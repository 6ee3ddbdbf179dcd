"""The data contract on Spark: the same pandera schemas (``tailor.schemas``), checked in one pass.

Renaming, required columns, type coercion, nullability and allowed values follow
``tailor.schemas.conform_table``; the rules are read from its pandera schemas, so there is
one definition of the contract. Every failure raises ``DataContractError`` naming the table,
the column (and its raw name) and examples, before any node writes an output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tailor.schemas import SCHEMAS, DataContractError
from tailor.schemas import conform_table as conform_pandas

_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]
# Date/time layouts tried in turn for text timestamps (pandas parses 'mixed' formats).
TIME_FORMATS = (
    None,  # Spark's ISO-8601 parser: 2011-12-01, 2011-12-01 08:26:00, 2011-12-01T08:26:00
    "M/d/yyyy H:mm",
    "M/d/yyyy H:mm:ss",
    "d.M.yyyy H:mm",
    "yyyy/M/d H:mm:ss",
    "yyyy/M/d",
    "M/d/yyyy",
)


def spark_type(table: str, column: str) -> T.DataType:
    """The Spark type of a contract column (text, float, naive timestamp or bool)."""
    dtype = str(SCHEMAS[table].columns[column].dtype)
    if dtype.startswith("datetime"):
        return T.TimestampNTZType()
    if dtype.startswith("float"):
        return T.DoubleType()
    if dtype == "bool":
        return T.BooleanType()
    return T.StringType()


def contract_schema(table: str, columns: list[str] | None = None) -> T.StructType:
    names = columns if columns is not None else list(SCHEMAS[table].columns)
    return T.StructType([T.StructField(c, spark_type(table, c), True) for c in names])


def empty_table(spark: SparkSession, table: str) -> DataFrame:
    """An absent optional table: no rows, every contract column typed."""
    return spark.createDataFrame([], contract_schema(table))


def from_pandas(spark: SparkSession, frame: pd.DataFrame, table: str) -> DataFrame:
    """A conformed pandas table as a Spark DataFrame with the contract's types."""
    schema = contract_schema(table, [str(c) for c in frame.columns])
    if frame.empty:
        return spark.createDataFrame([], schema)
    clean = frame.astype(object).where(frame.notna(), None)
    return spark.createDataFrame(clean, schema)


def _is_float(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.FloatType | T.DoubleType | T.DecimalType)


def _missing(c: Column, dtype: T.DataType) -> Column:
    """Missing as pandas sees it: null, or NaN in a float column."""
    return (c.isNull() | F.isnan(c)) if _is_float(dtype) else c.isNull()


def _parse_time(c: Column, dtype: T.DataType) -> Column:
    if isinstance(dtype, T.TimestampNTZType):
        return c
    if isinstance(dtype, T.TimestampType | T.DateType):
        return c.cast(T.TimestampNTZType())
    if isinstance(dtype, T.IntegralType):
        # pandas reads integers as nanoseconds since the epoch (and Parquet nanosecond
        # timestamps arrive as such longs, see session.REQUIRED)
        return F.timestamp_micros(F.floor(c / F.lit(1000))).cast(T.TimestampNTZType())
    text = F.trim(c.cast("string"))
    tries = [F.try_to_timestamp(text) if f is None else F.try_to_timestamp(text, F.lit(f))
             for f in TIME_FORMATS]  # fmt: skip
    return F.coalesce(*tries).cast(T.TimestampNTZType())


def _as_text(c: Column, dtype: T.DataType, whole: bool) -> Column:
    """Strings; float ids such as 17850.0 become '17850' when the whole column is whole."""
    if isinstance(dtype, T.StringType):
        return c
    if _is_float(dtype):
        value = F.when(~F.isnan(c), c)
        return (value.cast("long") if whole else value).cast("string")
    return c.cast("string")


def _fail(df: DataFrame, bad: Column, column: str, table: str, src: str, check: str, n: int) -> str:
    hint = f" (raw column '{src}')" if src != column else ""
    rows = df.where(bad).select(F.col(column).cast("string")).limit(3).collect()
    examples = [r[0] for r in rows]
    where = f"table '{table}', column '{column}'{hint}"
    return f"{where}: failed {check}; {n} bad value(s), e.g. {examples}"


def conform_table(
    raw: DataFrame | pd.DataFrame | None,
    table: str,
    column_map: Mapping[str, str] | None = None,
    *,
    optional: bool = False,
    spark: SparkSession | None = None,
) -> DataFrame | None:
    """Rename ``raw`` to canonical columns, check and coerce it; ``None`` if absent and optional.

    A pandas table (a small optional source read by ``OptionalTableDataset``) goes through
    the pandas contract and is then handed to Spark with the contract's types.
    """
    if isinstance(raw, pd.DataFrame):
        frame = conform_pandas(raw, table, column_map, optional=optional)
        if frame is None:
            return None
        from tailor.spark.session import get_spark

        return from_pandas(spark or get_spark(), frame, table)
    schema = SCHEMAS[table]
    column_map = dict(column_map or {})
    if raw is None or (len(raw.columns) == 0 and optional):
        return None
    if raw.isEmpty():
        if optional and table == "suppression":
            return raw.sparkSession.createDataFrame([], contract_schema(table, ["user_id"]))
        raise DataContractError(f"table '{table}': the table is empty (0 rows)")
    raw_name = {canon: src for src, canon in column_map.items()}
    missing_src = [src for src in column_map if src not in raw.columns]
    present = [src for src in raw.columns if src in column_map or src in schema.columns]
    for name in schema.columns:
        sources = [src for src in present if column_map.get(src, src) == name]
        if len(sources) > 1:
            raise DataContractError(
                f"table '{table}', column '{name}': raw columns {sources} all map to it; "
                "map only the one to use (rename the other to a column the contract ignores)"
            )
    df = raw.select(*[F.col(f"`{s}`").alias(column_map.get(s, s)) for s in present])
    for name, col in schema.columns.items():
        if col.required and name not in df.columns:
            src = raw_name.get(name, name)
            hint = f" (mapped from raw column '{src}')" if src != name else ""
            raise DataContractError(
                f"table '{table}', column '{name}'{hint}: required column is missing; "
                f"found columns {sorted(raw.columns)}"
                + (f"; mapped columns not found: {missing_src}" if missing_src else "")
            )
    names = [c for c in schema.columns if c in df.columns]
    types = {f.name: f.dataType for f in df.schema.fields}
    kinds = {c: spark_type(table, c) for c in names}

    # Pass 1 (one job): which float id columns are whole, and every coercion failure.
    probes: dict[str, Column] = {}
    converted: dict[str, Column] = {}
    for name in names:
        c, dtype, kind = F.col(name), types[name], kinds[name]
        if isinstance(kind, T.StringType) and _is_float(dtype):
            probes[f"{name}:fraction"] = F.sum(
                F.when(~F.isnan(c) & (c != F.floor(c)), 1).otherwise(0)
            )
        elif isinstance(kind, T.TimestampNTZType):
            converted[name] = _parse_time(c, dtype)
        elif isinstance(kind, T.DoubleType):
            value = c if _is_float(dtype) else F.trim(c.cast("string")).try_cast("double")
            converted[name] = F.when(~F.isnan(value), value)
        elif isinstance(kind, T.BooleanType):
            words = F.lower(F.trim(c.cast("string")))
            converted[name] = c if isinstance(dtype, T.BooleanType) else (
                F.when(words.isin(_TRUE), True).when(words.isin(_FALSE), False)
            )  # fmt: skip
        if name in converted and not isinstance(dtype, T.DoubleType | T.FloatType):
            probes[f"{name}:coerce"] = F.sum(
                F.when(converted[name].isNull() & c.isNotNull(), 1).otherwise(0)
            )
        if not schema.columns[name].nullable:
            probes[f"{name}:null"] = F.sum(F.when(_missing(c, dtype), 1).otherwise(0))
    stats: dict[str, Any] = (
        df.agg(*[e.alias(k) for k, e in probes.items()]).first().asDict() if probes else {}
    )
    for name in names:
        if f"{name}:fraction" in stats:
            converted[name] = _as_text(F.col(name), types[name], stats[f"{name}:fraction"] == 0)
        elif isinstance(kinds[name], T.StringType):
            converted[name] = _as_text(F.col(name), types[name], False)
    errors = []
    for name in names:
        src = raw_name.get(name, name)
        n_bad = stats.get(f"{name}:coerce") or 0
        if n_bad:
            bad = converted[name].isNull() & F.col(name).isNotNull()
            check = f"coerce_dtype('{schema.columns[name].dtype}')"
            errors.append(_fail(df, bad, name, table, src, check, n_bad))
        n_null = stats.get(f"{name}:null") or 0
        if n_null:
            bad = _missing(F.col(name), types[name])
            errors.append(_fail(df, bad, name, table, src, "not_nullable", n_null))
    out = df.select(*[converted[n].cast(kinds[n]).alias(n) for n in names])
    # Allowed values (pass 2, only for columns that have such checks).
    checks = {
        name: check.statistics["allowed_values"]
        for name in names
        for check in schema.columns[name].checks
        if check.name == "isin"
    }
    if checks and not errors:
        outside = {n: F.col(n).isNotNull() & ~F.col(n).isin(list(v)) for n, v in checks.items()}
        counts = (
            out.agg(*[F.sum(bad.cast("long")).alias(n) for n, bad in outside.items()])
            .first()
            .asDict()
        )
        for name, allowed in checks.items():
            if counts[name]:
                bad = F.col(name).isNotNull() & ~F.col(name).isin(list(allowed))
                check = f"isin({list(allowed)})"
                src = raw_name.get(name, name)
                errors.append(_fail(out, bad, name, table, src, check, counts[name]))
    if errors:
        raise DataContractError("; ".join(errors))
    return out
