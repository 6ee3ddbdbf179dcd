"""One local[2] SparkSession for every Spark test (a JVM start costs ~10 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

SPARK_TEST_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "2g",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from tailor.spark.session import get_spark

    session = get_spark(SPARK_TEST_CONF)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
