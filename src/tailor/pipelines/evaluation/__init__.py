"""The evaluation pipeline: every recommender candidate on the time hold-out."""

from tailor.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
