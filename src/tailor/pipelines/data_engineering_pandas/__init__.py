"""The pandas data-engineering pipeline: the reference of the Ibis one (not in __default__)."""

from tailor.pipelines.data_engineering_pandas.pipeline import create_pipeline

__all__ = ["create_pipeline"]
