"""Kedro dataset for the served model's pyfunc directory (``MLmodel`` + artefacts).

Saved from ``{"model": Recommender, "items": DataFrame, "meta": dict}``; loads back as the
MLflow pyfunc model, which is what serving imports (BentoML, without the registry).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset

from tailor.recommenders.pyfunc import save_bundle


class PyfuncBundleDataset(AbstractDataset[dict[str, Any], Any]):
    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            save_bundle(data["model"], data["items"], data["meta"], self._path, Path(tmp))

    def load(self) -> Any:
        return mlflow.pyfunc.load_model(str(self._path))

    def _exists(self) -> bool:
        return (self._path / "MLmodel").exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
