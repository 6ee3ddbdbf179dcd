"""The one SparkSession of a run, configured from ``conf/<env>/spark.yml``.

The hook calls :func:`activate` when the environment has a spark.yml; the pipeline
registry then swaps in the Spark data-engineering pipeline. A cluster is a config change
(``spark.master: spark://…`` or ``yarn``), never a code change.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pyspark.sql import SparkSession

# Settings every Tailor Spark session needs, whatever spark.yml says: naive timestamps
# (pandas' datetime64 without a zone) stay naive, and pandas' nanosecond Parquet
# timestamps, which Spark cannot read as timestamps, arrive as longs (see contract.py).
REQUIRED: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # the tables it writes are read by pandas/pyarrow: Parquet's microsecond timestamps
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

_state: dict[str, Any] = {"conf": None}


def activate(conf: dict[str, Any]) -> SparkSession:
    """Mark the Spark engine active for this process and start (or reuse) its session."""
    _state["conf"] = {str(k): str(v) for k, v in conf.items()}
    return get_spark()


def deactivate() -> None:
    _state["conf"] = None


def is_active() -> bool:
    return _state["conf"] is not None


def get_spark(conf: dict[str, Any] | None = None) -> SparkSession:
    """The active session, created from ``conf`` (or the activated config) if none runs."""
    settings = {**(conf or _state["conf"] or {}), **REQUIRED}
    # Python workers (pandas UDFs) run this interpreter, with the project's packages
    # (pyspark reads the variable, not the conf, in local mode).
    python = settings.pop("spark.pyspark.python", None) or sys.executable
    os.environ.setdefault("PYSPARK_PYTHON", python)
    builder = SparkSession.builder.appName(settings.pop("spark.app.name", "tailor"))
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    for key, value in REQUIRED.items():  # a reused session may predate our settings
        spark.conf.set(key, value)
    return spark
