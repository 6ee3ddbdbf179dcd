"""One table of the synthetic storefront, generated on first load and cached as Parquet."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from tailor.synthetic import generate

TABLES = ("users", "items", "events", "email", "transactions", "truth")


class SyntheticTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Loads ``table`` of the storefront that ``generator`` (a config dict) describes.

    All tables of one config are generated together and cached under
    ``directory/<config hash>/`` so every table of a run comes from the same world, and a
    rerun with the same config and seed reads them back instead of regenerating.
    """

    def __init__(
        self,
        table: str,
        directory: str,
        generator: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if table not in TABLES:
            raise DatasetError(f"SyntheticTableDataset: unknown table '{table}'; one of {TABLES}")
        self._table = table
        self._generator = dict(generator or {})
        key = json.dumps(self._generator, sort_keys=True, default=str)
        self._dir = Path(directory) / hashlib.sha1(key.encode()).hexdigest()[:12]
        self.metadata = metadata

    def _ensure(self) -> None:
        if (self._dir / "_SUCCESS").exists():
            return
        tables = generate(self._generator)
        tmp = self._dir.with_name(self._dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, frame in tables.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "config.json").write_text(json.dumps(self._generator, indent=2, default=str))
        (tmp / "_SUCCESS").touch()
        shutil.rmtree(self._dir, ignore_errors=True)
        tmp.rename(self._dir)

    def load(self) -> pd.DataFrame:
        self._ensure()
        return pd.read_parquet(self._dir / f"{self._table}.parquet")

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError(
            "SyntheticTableDataset is read-only: change the generator config instead"
        )

    def _exists(self) -> bool:
        return (self._dir / "_SUCCESS").exists()

    def _describe(self) -> dict[str, Any]:
        return {"table": self._table, "directory": str(self._dir)}
