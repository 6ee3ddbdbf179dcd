"""The Ibis connection of a run, and what differs between SQL dialects.

One connection per process: embedded DuckDB unless :func:`use` installed another (a
Kedro environment's ``ibis.yml``, or a test). Pandas frames handed to the data
engineering become in-memory tables of that connection, numbered in input order
(``ROW``): pandas' rules break ties by input order, so the expressions do too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis import BaseBackend

ROW = "_row"  # input order of a line; dropped when a table is written
_state: dict[str, Any] = {"con": None}


def use(con: BaseBackend | None) -> None:
    """Make ``con`` the connection of this process (``None``: back to embedded DuckDB)."""
    _state["con"] = con
    if con is not None:
        ibis.set_backend(con)


def connect(options: dict[str, Any] | None = None) -> BaseBackend:
    """A connection from config: ``{backend: duckdb, ...connect kwargs}`` (default DuckDB)."""
    opts = dict(options or {})
    name = opts.pop("backend", "duckdb")
    return getattr(ibis, name).connect(**opts)


def backend() -> BaseBackend:
    if _state["con"] is None:
        use(connect())
    return _state["con"]


def table(data: pd.DataFrame | ibis.Table) -> ibis.Table:
    """``data`` as a table of this run's connection (pandas: numbered in input order)."""
    if isinstance(data, ibis.Table):
        if ROW in data.columns:
            return data
        order = _file_order(data)
        if order == ["file_row_number"]:  # one file: its row numbers are the input order
            return data.rename(**{ROW: "file_row_number"})
        if order == list(FILE_ORDER):  # parts of one table: file by file, in name order
            names = sorted(data.select("filename").distinct().to_pandas()["filename"])
            # an expression, not a join: a scan that does not need the order skips it
            first = ibis.cases(
                *((data.filename == name, i * 2**40) for i, name in enumerate(names)),
                else_=ibis.null("int64"),
            )
            row = first.cast("int64") + data.file_row_number
            return data.mutate(**{ROW: row}).drop(*order)
        if backend().name == "pyspark":
            return _spark_input_order(data)
        return data.mutate(**{ROW: ibis.row_number()})
    frame = data.reset_index(drop=True).assign(**{ROW: np.arange(len(data), dtype=np.int64)})
    for col in frame.columns:
        if frame[col].dtype == object and frame[col].isna().all():
            frame[col] = frame[col].astype("string")  # all-missing: text, not a null type
        elif frame[col].dtype == object and not _arrow_can_type(frame[col]):
            # mixed cells (5.0 beside 'n/a'): text, which the contract then parses or names
            frame[col] = frame[col].map(lambda v: v if pd.isna(v) else str(v))
    # through Arrow: nanosecond timestamps stay nanoseconds (ibis' own inference is micro)
    return _hold(pa.Table.from_pandas(frame, preserve_index=False))


def _hold(arrow: pa.Table) -> ibis.Table:
    """``arrow`` as a temporary table of this run's connection (PySpark has none: a
    temporary view of the data frame it makes of it)."""
    con = backend()
    if con.name == "pyspark":
        return con.create_view(_name(), ibis.memtable(arrow), overwrite=True)
    return con.create_table(_name(), ibis.memtable(arrow), temp=True)


# Columns a file reader adds to say where a row was (DuckDB: ``filename``,
# ``file_row_number`` load arguments): the input order of a table read from files.
FILE_ORDER = ("filename", "file_row_number")


def _spark_input_order(t: ibis.Table) -> ibis.Table:
    """A table Spark reads from files, numbered in input order: files in name order, rows
    in file order (a file's splits are read in offset order, so the generated id grows
    along the file). Needs no shuffle and no extra scan: the files are the plan's own."""
    from pyspark.sql import functions as F

    con = backend()
    frame = con._session.sql(con.compile(t))
    files = sorted(frame.inputFiles())
    rank = F.lit(None).cast("long")
    for i, name in enumerate(files):
        rank = F.when(F.input_file_name() == name, F.lit(i)).otherwise(rank)
    # monotonically_increasing_id < 2**33 * partitions: 2**44 leaves room for 2,048 of them
    row = rank * F.lit(2**44) + F.monotonically_increasing_id()
    name = _name()
    frame.withColumn(ROW, row).createOrReplaceTempView(name)
    return con.table(name)


def _file_order(t: ibis.Table) -> list[str]:
    return [c for c in FILE_ORDER if c in t.columns]


_counter = [0]


def _name() -> str:
    _counter[0] += 1
    return f"tailor_input_{_counter[0]}"


def _arrow_can_type(values: pd.Series) -> bool:
    try:
        pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def empty(schema: dict[str, str]) -> ibis.Table:
    """A table with these typed columns and no rows."""
    return ibis.memtable(ibis.schema(schema).to_pyarrow().empty_table())


def count(t: ibis.Table) -> int:
    return int(t.count().to_pyarrow().as_py())


def scalar(expr: ibis.Scalar) -> Any:
    return expr.to_pyarrow().as_py()


def full_match_any_case(text: ibis.StringValue, patterns: list[str]) -> ibis.BooleanValue:
    """Whole value matches one of ``patterns`` (regular expressions), in any case."""
    return text.re_search("(?i)^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$")


def from_epoch_ns(col: ibis.IntegerValue) -> ibis.TimestampValue:
    """Nanoseconds since the epoch (pandas' integer instants; Spark's reading of Parquet
    nanosecond timestamps) as a timestamp, to the microsecond."""
    if backend().name == "pyspark":
        # Spark's integer // is floor(a / b) in doubles: off by one for such large longs
        micros = (col.cast(dt.Decimal(38, 0)) // 1000).cast("int64")
        return _timestamp_micros(micros).cast(dt.Timestamp())
    return (col // 1000).as_timestamp("us")


@ibis.udf.scalar.builtin(name="timestamp_micros")
def _timestamp_micros(micros: int) -> datetime:  # type: ignore[empty-body]
    """Spark's timestamp_micros."""


def table_as(frame: pd.DataFrame, schema: ibis.Schema) -> ibis.Table:
    """A pandas frame (fetched from the backend and worked on) back in, with ``schema``."""
    frame = frame[list(schema.names)].reset_index(drop=True)
    return _hold(pa.Table.from_pandas(frame, schema=schema.to_pyarrow(), preserve_index=False))


def left_join(left: ibis.Table, right: ibis.Table, key: str) -> ibis.Table:
    """``left`` with ``right``'s other columns (null where ``right`` has no ``key``)."""
    joined = left.left_join(right, key)
    return joined.select(*left.columns, *[c for c in right.columns if c != key])


def adopt(*inputs: Any) -> None:
    """Run on the backend that holds the raw tables (a catalog's Ibis connection), so the
    pandas inputs of the same run are created beside them."""
    for data in inputs:
        if isinstance(data, ibis.Table):
            con = data._find_backend(use_default=True)
            if con is not _state["con"]:
                use(con)
            return


def ts_literal(when: str | pd.Timestamp) -> ibis.TimestampScalar:
    """An instant as a literal, to the nanosecond where it has one."""
    when = pd.Timestamp(when)
    if when.nanosecond:
        return ibis.literal(str(when)).cast(dt.Timestamp(scale=9))
    return ibis.literal(when.to_pydatetime(), type="timestamp")


def max_ts(col: ibis.TimestampColumn) -> pd.Timestamp:
    """The latest instant of ``col`` (to the nanosecond)."""
    return pd.Timestamp(col.max().execute())


# Fixed point for sums: 26 digits before the point and 12 after hold any cleaned line value
# or total, and an integer sum is the same whatever order the threads add in.
EXACT = dt.Decimal(38, 12)


def exact_sum(col: ibis.NumericColumn) -> ibis.NumericScalar:
    """A sum that does not depend on the order of the rows: the values in fixed point
    (rounded to 1e-12), added exactly, then a float. A float sum in parallel threads moves
    in its last bit from run to run, and a retraining run must see the same features
    (tests/test_point_in_time.py); pandas' compensated sum agrees with it to ~1e-15."""
    return col.cast(EXACT).sum().cast("float64")


def exact_mean(col: ibis.NumericColumn) -> ibis.NumericScalar:
    """The mean of :func:`exact_sum` (NULL without values)."""
    return exact_sum(col) / col.count().nullif(0)
