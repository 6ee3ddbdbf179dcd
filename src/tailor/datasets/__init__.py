"""Kedro datasets of Tailor: optional input tables and the synthetic storefront."""

from tailor.datasets.optional_table import OptionalTableDataset
from tailor.datasets.synthetic_table import SyntheticTableDataset

__all__ = ["OptionalTableDataset", "SyntheticTableDataset"]
