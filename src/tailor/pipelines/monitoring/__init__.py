"""The monitoring pipeline: drift, data quality, prediction drift and the retrain signal."""

from tailor.pipelines.monitoring.pipeline import create_pipeline

__all__ = ["create_pipeline"]
