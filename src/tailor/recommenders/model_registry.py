"""The MLflow Model Registry as Kedro datasets: nodes stay pure, the registry is I/O.

``ChampionModelDataset`` loads the version that holds an alias (``champion``) with its
fitted model, or ``None`` when there is none yet. ``RegisteredModelDataset`` saves this
run's serving model: logs it as a pyfunc in the active run, registers it, tags it and moves
the alias the champion/challenger decision names; it writes the record as JSON, which is
what it loads.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tailor.recommenders.champion import AS_OF_TAG, SCORE_TAG
from tailor.recommenders.pyfunc import pyfunc_kwargs

log = logging.getLogger(__name__)


def alias_version(client: MlflowClient, name: str, alias: str) -> Any | None:
    """The model version holding ``alias``, or None (no such model or alias)."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


class ChampionModelDataset(AbstractDataset[None, dict[str, Any] | None]):
    """``models:/<model_name>@<alias>``: version, run id, URI, tags, scores and the model.

    ``with_model: false`` skips loading the model itself (only its description)."""

    def __init__(
        self,
        model_name: str,
        alias: str = "champion",
        with_model: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name, self._alias, self._with_model = model_name, alias, with_model
        self.metadata = metadata

    def load(self) -> dict[str, Any] | None:
        client = MlflowClient()
        mv = alias_version(client, self._name, self._alias)
        if mv is None:
            log.info("no %s@%s in the registry", self._name, self._alias)
            return None
        uri = f"models:/{self._name}/{mv.version}"
        out: dict[str, Any] = {
            "name": self._name,
            "alias": self._alias,
            "version": str(mv.version),
            "run_id": mv.run_id,
            "uri": uri,
            "tags": dict(mv.tags),
            "val_score": float(mv.tags.get(SCORE_TAG, "-inf")),
            "as_of": mv.tags.get(AS_OF_TAG),
        }
        if self._with_model:
            pyfunc = mlflow.pyfunc.load_model(uri)
            out["pyfunc"] = pyfunc
            out["model"] = pyfunc.unwrap_python_model().model
            out["as_of"] = str(out["model"].as_of)
        log.info("loaded %s (%s v%s, run %s)", uri, self._alias, mv.version, mv.run_id)
        return out

    def save(self, data: None) -> None:
        raise NotImplementedError("ChampionModelDataset is read-only: aliases move on register")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._name, "alias": self._alias}


class RegisteredModelDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Register ``{"model", "items", "info", "decision"}`` and move its alias."""

    def __init__(
        self,
        filepath: str,
        model_name: str,
        artifact_name: str = "recommender",
        enabled: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(filepath)
        self._name, self._artifact, self._enabled = model_name, artifact_name, enabled
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        decision, info = data["decision"], data["info"]
        record: dict[str, Any] = {"registered": False, "model_name": self._name, **decision}
        run = mlflow.active_run()
        if run is not None:
            selection = info.get("selection", {})
            mlflow.set_tags(
                {
                    "recommender.served": str(info["candidate"]),
                    "recommender.fallback": str(bool(selection.get("fallback"))).lower(),
                    "recommender.selection_reason": str(selection.get("reason", ""))[:4000],
                }
            )
        if run is None or not self._enabled:
            log.warning("no active MLflow run or registry disabled: model not registered")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                logged = mlflow.pyfunc.log_model(
                    name=self._artifact,
                    registered_model_name=self._name,
                    **pyfunc_kwargs(data["model"], data["items"], info, Path(tmp)),
                )
            version = str(logged.registered_model_version)
            client = MlflowClient()
            tags = {
                SCORE_TAG: f"{float(data['val_score']):.6f}",
                AS_OF_TAG: str(info["as_of"]),
                "candidate": str(info["candidate"]),
                "comparison": str(decision["comparison"]),
                "decision": str(decision["reason"])[:4000],
            }
            for key, value in tags.items():
                client.set_model_version_tag(self._name, version, key, value)
            alias = "champion" if decision["promote"] else "challenger"
            client.set_registered_model_alias(self._name, alias, version)
            mlflow.set_tags(
                {
                    "recommender.version": version,
                    "recommender.alias": alias,
                    "recommender.alias_reason": str(decision["reason"])[:4000],
                }
            )
            log.info("%s v%s -> %s (%s)", self._name, version, alias, decision["reason"])
            record |= {
                "registered": True,
                "version": version,
                "alias": alias,
                "run_id": run.info.run_id,
                "model_uri": logged.model_uri,
            }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(json.dumps(record, indent=2, default=str))

    def load(self) -> dict[str, Any]:
        return json.loads(self._path.read_text())

    def _exists(self) -> bool:
        return self._path.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path), "model_name": self._name}
