"""`kedro run --env spark --pipeline data_engineering` on the default data matches pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import make_project_copy, run_kedro
from tests.spark.conftest import SPARK_TEST_CONF
from tests.spark.test_parity import assert_same_table

pytestmark = pytest.mark.e2e

COMPARED = {
    "02_intermediate": ["customer_lines", "demand_lines"],
    "03_primary": ["interactions", "item_catalog", "daily_demand"],
    "04_feature": ["customer_features_val", "customer_features_train", "customer_features_serving"],
    "05_model_input": ["interactions_train", "interactions_test", "user_item_train"],
}


def test_spark_env_run_gives_the_pandas_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project_copy(tmp_path / "p")
    spark_yml = project / "conf/spark/spark.yml"
    conf = yaml.safe_load(spark_yml.read_text()) | SPARK_TEST_CONF
    spark_yml.write_text(yaml.safe_dump(conf))
    run_kedro(project, "--env", "spark", "--pipeline", "data_engineering")
    run_kedro(project, "--pipeline", "data_engineering")

    pandas_dir, spark_dir = project / "data", project / "data/spark"
    report = pd.read_csv(spark_dir / "08_reporting/cleaning_report.csv")
    pd.testing.assert_frame_equal(
        report, pd.read_csv(pandas_dir / "08_reporting/cleaning_report.csv")
    )
    assert report.set_index("step").loc["customer_rows_out", "rows"] > 300_000
    for layer, names in COMPARED.items():
        for name in names:
            got = spark_dir / layer / f"{name}.parquet"
            if name in ("item_catalog", "daily_demand"):
                assert got.is_file()  # small tables finished in pandas
            else:
                assert got.is_dir() and any(got.glob("part-*.parquet"))  # written by Spark
            expected = pd.read_parquet(pandas_dir / layer / f"{name}.parquet")
            assert_same_table(name, expected, pd.read_parquet(got))

    # the pandas pipelines downstream read Spark's tables through the `@pandas` entries
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    monkeypatch.chdir(project)
    loader = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="spark")
    loaded = DataCatalog.from_config(loader["catalog"]).load("interactions_train@pandas")
    assert isinstance(loaded, pd.DataFrame) and len(loaded) > 200_000
    assert loaded["user_id"].map(type).eq(str).all()
