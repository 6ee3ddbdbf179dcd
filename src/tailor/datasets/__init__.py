"""Kedro datasets of Tailor: optional input tables and the synthetic storefront."""

from tailor.datasets.optional_table import OptionalTableDataset, RawTableDataset
from tailor.datasets.synthetic_table import SyntheticTableDataset

__all__ = ["OptionalTableDataset", "RawTableDataset", "SyntheticTableDataset"]
