"""`kedro run --env spark --pipeline data_engineering` on the default data: the one Ibis
definition run by Spark writes the default run's tables, and spark_als can read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tailor.datasets import TableDataset
from tests.conftest import SPARK_TEST_CONF, make_project_copy, run_kedro
from tests.pipelines.data_engineering.test_engine_parity import fingerprint

pytestmark = pytest.mark.e2e

WRITTEN = {
    "02_intermediate": ["customer_lines", "demand_lines"],
    "03_primary": ["interactions", "item_catalog", "daily_demand"],
    "04_feature": ["customer_features_val", "customer_features_train", "customer_features_serving"],
    "05_model_input": ["interactions_train", "interactions_test", "user_item_train"],
}


def test_spark_env_run_writes_the_default_runs_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark: Any
) -> None:
    project = make_project_copy(tmp_path / "p")
    spark_yml = project / "conf/spark/spark.yml"
    conf = yaml.safe_load(spark_yml.read_text()) | SPARK_TEST_CONF
    spark_yml.write_text(yaml.safe_dump(conf))
    run_kedro(project, "--env", "spark", "--pipeline", "data_engineering")
    run_kedro(project, "--pipeline", "data_engineering")

    duckdb_dir, spark_dir = project / "data", project / "data/spark"
    report = pd.read_csv(spark_dir / "08_reporting/cleaning_report.csv")
    pd.testing.assert_frame_equal(
        report, pd.read_csv(duckdb_dir / "08_reporting/cleaning_report.csv")
    )
    assert report.set_index("step").loc["customer_rows_out", "rows"] > 300_000
    for layer, names in WRITTEN.items():
        for name in names:
            got = spark_dir / layer / f"{name}.parquet"
            if name in ("item_catalog", "daily_demand") or name.startswith("customer_features"):
                assert got.is_file()  # per-item, per-day, per-customer: back as pandas
            else:
                assert got.is_dir() and any(got.glob("part-*.parquet"))  # written by Spark
            expected = TableDataset(str(duckdb_dir / layer / f"{name}.parquet")).load()
            assert fingerprint(TableDataset(str(got)).load()) == fingerprint(expected), name

    # spark_als reads the same files as Spark data frames (`name@spark`, in this process's
    # session), with naive timestamps (Spark wrote them: TableDataset._spark_naive)
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    monkeypatch.chdir(project)
    loader = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="spark")
    lines = DataCatalog.from_config(loader["catalog"]).load("interactions_train@spark")
    assert dict(lines.dtypes)["ts"] == "timestamp_ntz"
    first = lines.orderBy("ts").first()
    train = TableDataset(str(spark_dir / "05_model_input/interactions_train.parquet")).load()
    assert lines.count() == len(train) and pd.Timestamp(first["ts"]) == train["ts"].min()
