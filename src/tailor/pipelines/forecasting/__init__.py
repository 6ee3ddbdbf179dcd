"""Forecast daily demand (tuned Prophet vs baselines), next purchases and replenishment."""

from tailor.pipelines.forecasting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
