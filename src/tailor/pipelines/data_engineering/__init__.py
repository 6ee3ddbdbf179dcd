"""Validate, clean and shape raw shop data into features, interactions and the time split."""

from tailor.pipelines.data_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
