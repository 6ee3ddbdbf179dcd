"""A Parquet table written from an Ibis table (by its backend) or a pandas frame, and read
back as pandas by the model pipelines.

DuckDB writes one file itself; Spark writes a directory of parts in the query's row order
(its own parallel writer: nothing is collected on the driver); another backend streams
Arrow batches into one file. Pandas reads either, parts in name order."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import ibis.expr.datatypes as dt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset

BATCH_ROWS = 500_000  # rows per fetched batch: bounds the memory a write needs


def pandas_schema(schema: pa.Schema) -> pa.Schema:
    """Timestamps in nanoseconds, as pandas writes them, so readers see one type."""
    fields = [
        pa.field(f.name, pa.timestamp("ns", f.type.tz)) if pa.types.is_timestamp(f.type) else f
        for f in schema
    ]
    return pa.schema(fields)


def _nanoseconds(col: Any) -> Any:
    """Timestamps as nanoseconds, as pandas writes them (other columns unchanged)."""
    t = col.type()
    return col.cast(dt.Timestamp(timezone=t.timezone, scale=9)) if t.is_timestamp() else col


def _spark_naive(frame: Any) -> Any:
    """Spark's zoned timestamps as naive ones (the session's zone is UTC): every Tailor
    table holds naive instants, and Parquet marks zoned ones as UTC for pandas."""
    zoned = [f.name for f in frame.schema.fields if f.dataType.typeName() == "timestamp"]
    if not zoned:
        return frame
    return frame.withColumns({c: frame[c].cast("timestamp_ntz") for c in zoned})


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _replace(new: Path, path: Path) -> None:
    """``new`` (a file or a directory) takes ``path``'s place; the old one is kept until
    then, so an interrupted write never leaves no table."""
    if path.is_dir() or (new.is_dir() and path.exists()):
        old = path.with_name(path.name + ".old")
        _remove(old)
        path.rename(old)
        new.rename(path)
        _remove(old)
    else:
        new.replace(path)


class TableDataset(AbstractDataset[Any, pd.DataFrame]):
    """``save`` takes an Ibis table (its backend runs it; batches go to the file as they
    come) or a pandas frame; ``load`` returns pandas. Writes are atomic."""

    def __init__(
        self,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(filepath)
        self._load_args = load_args or {}
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        frame = pd.read_parquet(self._path, **self._load_args)
        # Spark writes microseconds: the same instants in pandas' nanoseconds, one type
        micro = [c for c in frame.columns if frame[c].dtype == "datetime64[us]"]
        return frame.astype(dict.fromkeys(micro, "datetime64[ns]")) if micro else frame

    def save(self, data: Any) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        _remove(tmp)  # a write that was interrupted
        con = None if isinstance(data, pd.DataFrame) else data._find_backend(use_default=True)
        if con is None:
            data.to_parquet(tmp, index=False)
        elif con.name == "pyspark":
            _spark_naive(con._session.sql(con.compile(data))).write.parquet(str(tmp))
        elif con.name == "duckdb":
            # DuckDB writes the file itself (COPY ... TO, in the query's row order, in
            # parallel): nothing passes through Python
            data.select(**{c: _nanoseconds(data[c]) for c in data.columns}).to_parquet(tmp)
        else:
            batches = data.to_pyarrow_batches(chunk_size=BATCH_ROWS)
            schema = pandas_schema(batches.schema)
            with pq.ParquetWriter(tmp, schema) as writer:
                for batch in batches:
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
        _replace(tmp, self._path)

    def _exists(self) -> bool:
        return self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path)}
