"""A Parquet table written from an Ibis table (streamed out of its backend) or a pandas
frame, and read back as pandas by the model pipelines."""

from __future__ import annotations

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
        return pd.read_parquet(self._path, **self._load_args)

    def save(self, data: Any) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        if isinstance(data, pd.DataFrame):
            data.to_parquet(tmp, index=False)
        elif data._find_backend(use_default=True).name == "duckdb":
            # DuckDB writes the file itself (COPY ... TO, in the query's row order, in
            # parallel): nothing passes through Python
            data.select(**{c: _nanoseconds(data[c]) for c in data.columns}).to_parquet(tmp)
        else:
            batches = data.to_pyarrow_batches(chunk_size=BATCH_ROWS)
            schema = pandas_schema(batches.schema)
            with pq.ParquetWriter(tmp, schema) as writer:
                for batch in batches:
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
        tmp.replace(self._path)

    def _exists(self) -> bool:
        return self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path)}
