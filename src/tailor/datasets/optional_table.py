"""A raw CSV or Parquet table; an optional one may not exist and then loads as an empty frame.

CSV cells are read as text: ids such as "00042", 17-digit numbers and "NA" must reach the
data contract as written (pandas would make them 42, a float, and missing). The contract
coerces numbers and dates itself, naming the column when a value does not parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError


class OptionalTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Optional sources (users, events, email, items, suppression list) of the data contract.

    ``filepath: null`` or a missing file means "not provided" unless ``required`` (then a
    missing file stops the run naming it); the format follows the suffix (``.csv``/``.parquet``)
    unless ``file_format`` says otherwise. ``load_args`` override the text-preserving CSV
    defaults.
    """

    def __init__(
        self,
        filepath: str | None = None,
        file_format: str | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        required: bool = False,
    ) -> None:
        self._path = Path(filepath) if filepath else None
        fmt = file_format or (self._path.suffix.lstrip(".") if self._path else "parquet")
        if fmt not in ("csv", "parquet"):
            raise DatasetError(
                f"OptionalTableDataset: unsupported file_format '{fmt}' for {filepath}"
            )
        self._format = fmt
        self._required = required
        text = {"dtype": str, "keep_default_na": False, "na_values": [""]}
        self._load_args = {**(text if fmt == "csv" else {}), **(load_args or {})}
        self._save_args = save_args or {}
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        if self._path is None or not self._path.exists():
            if self._required:
                raise DatasetError(f"required table file not found: {self._path}")
            return pd.DataFrame()
        if self._format == "csv":
            return pd.read_csv(self._path, **self._load_args)
        return pd.read_parquet(self._path, **self._load_args)

    def save(self, data: pd.DataFrame) -> None:
        if self._path is None:
            raise DatasetError("OptionalTableDataset: cannot save without a filepath")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(self._path.suffix + ".tmp")
        if self._format == "csv":
            data.to_csv(tmp, index=False, **self._save_args)
        else:
            data.to_parquet(tmp, index=False, **self._save_args)
        tmp.replace(self._path)  # atomic: a crash never leaves a half-written table

    def _exists(self) -> bool:
        return self._path is not None and self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path) if self._path else None, "file_format": self._format}


class RawTableDataset(OptionalTableDataset):
    """A required raw table (transactions): CSV read as text; a missing file is an error."""

    def __init__(self, filepath: str, **kwargs: Any) -> None:
        kwargs.setdefault("required", True)
        super().__init__(filepath=filepath, **kwargs)
