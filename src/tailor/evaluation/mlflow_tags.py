"""A catalog dataset that writes a dict of tags to JSON and sets them on the active MLflow run.

kedro-mlflow has datasets for metrics and artefacts but none for tags; the fairness flags
must be searchable in the MLflow UI (``tags.fairness.flagged = 'true'``), so nodes return
the tags and this dataset does the I/O.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset

log = logging.getLogger(__name__)


class MlflowTagsDataset(AbstractDataset[dict[str, str], dict[str, str]]):
    """``save(tags)``: write ``filepath`` (JSON) and ``mlflow.set_tags`` on the active run."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def save(self, data: dict[str, str]) -> None:
        tags = {str(k): str(v) for k, v in data.items()}
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        self._filepath.write_text(json.dumps(tags, indent=2, sort_keys=True))
        if mlflow.active_run() is not None:
            mlflow.set_tags(tags)
        else:
            log.info("no active MLflow run: %d tags written to %s only", len(tags), self._filepath)

    def load(self) -> dict[str, str]:
        return json.loads(self._filepath.read_text())

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
