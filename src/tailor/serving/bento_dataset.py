"""A BentoML model as a Kedro dataset: saving creates a new version in the model store.

Saved from ``{"files": {name: DataFrame | dict | npz-dict}, "metadata": {...}}``: only
what the service reads (the recommender's registered MLflow version is named in its
metadata, not copied). Loads the path of the newest version. The store is ``BENTOML_HOME``
(the Makefile points it at ``bentoml_home/`` in the project).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from kedro.io import AbstractDataset

log = logging.getLogger(__name__)


class BentoModelDataset(AbstractDataset[dict[str, Any], Path]):
    def __init__(
        self,
        name: str,
        labels: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = name
        self._labels = labels or {"project": "tailor"}
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        # BentoML metadata takes basic types only: nested values as JSON, None left out.
        meta = {
            k: v if isinstance(v, str | int | float | bool) else json.dumps(v, default=str)
            for k, v in data.get("metadata", {}).items()
            if v is not None
        }
        with bentoml.models.create(self._name, labels=self._labels, metadata=meta) as ref:
            root = Path(ref.path)
            for fname, obj in data["files"].items():
                if isinstance(obj, pd.DataFrame):
                    obj.to_parquet(root / fname, index=False)
                elif fname.endswith(".npz"):
                    np.savez(root / fname, **obj)
                else:
                    (root / fname).write_text(json.dumps(obj, indent=2, default=str))
        log.info("saved %s", ref.tag)

    def load(self) -> Path:
        return Path(bentoml.models.get(f"{self._name}:latest").path)

    def _exists(self) -> bool:
        try:
            bentoml.models.get(f"{self._name}:latest")
        except bentoml.exceptions.NotFound:
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}
