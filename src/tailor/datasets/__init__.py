"""Kedro datasets of Tailor: optional input tables, the synthetic storefront, and
Parquet tables written from Ibis or pandas."""

from tailor.datasets.optional_table import OptionalTableDataset, RawTableDataset
from tailor.datasets.synthetic_table import SyntheticTableDataset
from tailor.datasets.table_dataset import TableDataset

__all__ = ["OptionalTableDataset", "RawTableDataset", "SyntheticTableDataset", "TableDataset"]
