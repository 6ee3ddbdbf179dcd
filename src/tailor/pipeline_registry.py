"""Project pipelines: one folder per pipeline under ``tailor.pipelines``."""

from __future__ import annotations

import sys

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

NOT_DEFAULT = ("serving", "data_engineering_pandas")


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    spark = sys.modules.get("tailor.spark.session")  # set by tailor.hooks.SparkHooks
    if spark is not None and spark.is_active():
        from tailor.spark.pipeline import with_spark_readers

        pipelines = with_spark_readers(pipelines)
    # `kedro run` trains and evaluates; packaging for serving is `make package` (a release
    # step after the registry has decided the champion).
    # data_engineering_pandas: the reference the Ibis data engineering is measured against
    training = [p for name, p in pipelines.items() if name not in NOT_DEFAULT]
    pipelines["__default__"] = sum(training, Pipeline([]))
    return pipelines
