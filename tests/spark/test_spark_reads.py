"""Raw lines Spark reads itself keep their input order and their instants.

The cleaning breaks ties by input order, as pandas does: a table read from a directory of
parts is numbered files in name order, rows in file order, however Spark packs the files
into partitions (largest first). Pandas' nanosecond Parquet timestamps arrive in Spark as
longs and are typed back to the microsecond.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tailor.tables import backend
from tailor.tables.backend import ROW
from tailor.tables.contract import conform_table


def lines(n: int, start: int) -> pd.DataFrame:
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 61_000_123, unit="us")
    return pd.DataFrame(
        {
            "order_id": [f"o{start + i}" for i in range(n)],
            "user_id": "u1",
            "item_id": "A",  # every line alike but its order: only input order tells them apart
            "quantity": 1.0,
            "unit_price": 2.0,
            "ts": when.as_unit("ns"),
        }
    )


@pytest.fixture
def on_spark(spark: Any) -> Any:
    con = ibis.pyspark.connect(spark)
    backend.use(con)
    before = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")  # several splits per file
    yield con
    spark.conf.set("spark.sql.files.maxPartitionBytes", before)
    backend.use(None)


def test_parts_read_by_spark_keep_input_order_and_instants(on_spark: Any, tmp_path: Path) -> None:
    # the first file is the smaller: Spark reads the larger one's splits first
    parts = [lines(300, 0), lines(30_000, 300)]
    folder = tmp_path / "transactions.parquet"
    folder.mkdir()
    for i, part in enumerate(parts):
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, folder / f"part-{i:05d}.parquet", row_group_size=2_000)
    raw = on_spark.read_parquet(str(folder), table_name="raw_lines")
    assert raw.schema()["ts"].is_integer()  # nanoseconds as longs (session.REQUIRED)
    assert on_spark._session.table("raw_lines").rdd.getNumPartitions() > 2

    typed = conform_table(raw, "transactions", {}).order_by(ROW).to_pandas()
    expected = pd.concat(parts, ignore_index=True)
    assert typed["order_id"].tolist() == expected["order_id"].tolist()
    assert typed["ts"].tolist() == expected["ts"].dt.floor("us").tolist()
