"""The spark_als pipeline (Spark engine only; empty in environments without spark.yml)."""

from tailor.pipelines.spark_als.pipeline import create_pipeline

__all__ = ["create_pipeline"]
