"""The ``recommender`` pipeline: tune candidates on validation, refit, score, serve."""

from tailor.pipelines.recommender.pipeline import create_pipeline

__all__ = ["create_pipeline"]
