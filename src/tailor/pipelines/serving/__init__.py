"""The ``serving`` pipeline: the registry's champion + pipeline outputs -> BentoML models."""

from tailor.pipelines.serving.pipeline import create_pipeline

__all__ = ["create_pipeline"]
