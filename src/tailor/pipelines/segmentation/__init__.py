"""Discovered clusters and documented rule segments for each customer-feature snapshot."""

from tailor.pipelines.segmentation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
