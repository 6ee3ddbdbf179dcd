"""How Spark's own nodes read the data engineering's tables under ``--env spark``.

The data engineering is the one Ibis definition (``tailor.pipelines.data_engineering``),
run there by Ibis's PySpark backend; it writes each table once. The interaction tables
have two names on one path (Kedro transcoding, conf/spark/catalog.yml): ``name@spark``
for the ``spark_als`` pipeline, ``name@pandas`` for every other pipeline.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

# The tables spark_als reads as Spark data frames.
SPARK_READ = ("interactions_train", "interactions_test", "interactions_fit", "interactions_val")


def pandas_names(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with the tables Spark also reads named ``name@pandas``."""
    inputs = {t: f"{t}@pandas" for t in SPARK_READ if t in pipeline.inputs()}
    outputs = {t: f"{t}@pandas" for t in SPARK_READ if t in pipeline.outputs()}
    if not inputs and not outputs:
        return pipeline
    return Pipeline(pipeline, inputs=inputs, outputs=outputs)


def with_spark_readers(pipelines: dict[str, Pipeline]) -> dict[str, Pipeline]:
    """The registry under ``--env spark``: ``spark_als`` reads ``@spark``, the rest ``@pandas``."""
    return {n: p if n == "spark_als" else pandas_names(p) for n, p in pipelines.items()}
