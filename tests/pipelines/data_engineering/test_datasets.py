"""The project's Kedro datasets: optional tables and the cached synthetic storefront."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from tailor.datasets import OptionalTableDataset, SyntheticTableDataset


def test_optional_table_absent_is_an_empty_frame_and_round_trips(tmp_path: Path) -> None:
    assert OptionalTableDataset(filepath=None).load().shape == (0, 0)
    missing = OptionalTableDataset(filepath=str(tmp_path / "nope.csv"))
    assert missing.load().shape == (0, 0) and not missing.exists()
    frame = pd.DataFrame({"user_id": ["a", "b"]})
    for name in ("s.csv", "s.parquet"):
        ds = OptionalTableDataset(filepath=str(tmp_path / "sub" / name))
        ds.save(frame)
        pd.testing.assert_frame_equal(ds.load(), frame)
    assert not list((tmp_path / "sub").glob("*.tmp"))  # written atomically
    with pytest.raises(DatasetError, match="unsupported file_format 'xlsx'"):
        OptionalTableDataset(filepath=str(tmp_path / "s.xlsx"))


def test_synthetic_tables_share_one_cached_world(tmp_path: Path) -> None:
    config = {"seed": 5, "n_users": 30, "n_categories": 3, "items_per_category": 5, "days": 60}
    tx = SyntheticTableDataset("transactions", str(tmp_path), config)
    truth = SyntheticTableDataset("truth", str(tmp_path), config)
    lines = tx.load()
    assert tx.exists() and truth.exists()  # every table of the world was written at once
    assert set(lines["user_id"].dropna()) <= set(truth.load()["user_id"])
    pd.testing.assert_frame_equal(
        SyntheticTableDataset("transactions", str(tmp_path), config).load(), lines
    )
    other = SyntheticTableDataset("transactions", str(tmp_path), {**config, "seed": 6})
    assert not other.exists()  # another config is another world
    with pytest.raises(DatasetError, match="read-only"):
        tx.save(lines)
    with pytest.raises(DatasetError, match="unknown table"):
        SyntheticTableDataset("orders", str(tmp_path), config)
