"""Everything Tailor writes to MLflow besides kedro-mlflow's own datasets, in one place.

- ``suggest``: the one search-space grammar of every Optuna study (recommender families,
  blend, forecasting);
- ``study_name``: the one study-naming rule (a content hash of the tuned-on data and of the
  search space: a rerun on the same inputs resumes, changed data starts a fresh study);
- ``OptunaMlflowCallback``: the one Optuna -> MLflow writer (a nested run per trial);
- ``MlflowChildRunsDataset``: catalog dataset that writes one child run per candidate, so
  the MLflow UI charts candidates side by side on identical metric keys.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from mlflow.entities import Metric, Param

log = logging.getLogger(__name__)

# The MLflow 3 UI opens an experiment with this tag on its training runs, not the GenAI view.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
CANDIDATE_TAG = "tailor.candidate"

SPACE_KEYS = {"type", "low", "high", "log", "step", "choices"}


def suggest(trial: optuna.Trial, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Parameters from a YAML search space ``{name: {type, low, high, log, step, choices}}``.

    ``type`` is ``float``, ``int`` or ``categorical``; without it a spec with ``choices`` is
    categorical and one with ``low``/``high`` is float.
    """
    out: dict[str, Any] = {}
    for name, spec in space.items():
        unknown = set(spec) - SPACE_KEYS
        if unknown:
            raise ValueError(
                f"search space '{name}': unknown keys {sorted(unknown)}"
                f" (allowed: {', '.join(sorted(SPACE_KEYS))})"
            )
        kind = spec.get("type", "categorical" if "choices" in spec else "float")
        if kind == "categorical":
            if not spec.get("choices"):
                raise ValueError(f"search space '{name}': categorical needs a non-empty 'choices'")
            out[name] = trial.suggest_categorical(name, list(spec["choices"]))
        elif kind in ("float", "int"):
            if "low" not in spec or "high" not in spec:
                raise ValueError(f"search space '{name}': {kind} needs 'low' and 'high'")
            cast = float if kind == "float" else int
            low, high = cast(spec["low"]), cast(spec["high"])
            if low > high:
                raise ValueError(f"search space '{name}': low {low} > high {high}")
            step = spec.get("step")
            suggest_fn = trial.suggest_float if kind == "float" else trial.suggest_int
            kwargs: dict[str, Any] = {"log": bool(spec.get("log", False))}
            if step is not None:
                kwargs["step"] = cast(step)
            out[name] = suggest_fn(name, low, high, **kwargs)
        else:
            raise ValueError(
                f"search space '{name}': unknown type '{kind}' (float, int or categorical)"
            )
    return out


def _frame_digest(frame: pd.DataFrame) -> bytes:
    """Digest of a frame's columns, dtypes and every value (row order included)."""
    head = json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode()
    try:
        rows = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells (lists, dicts): hash their text
        rows = pd.util.hash_pandas_object(frame.astype(str), index=False)
    return hashlib.sha256(head + rows.to_numpy().tobytes()).digest()


def study_name(kind: str, data: Mapping[str, pd.DataFrame], config: Any) -> str:
    """``<kind>-<hash>`` of the data the study tunes on and of its search space/settings.

    Content, not shape: changed values with the same row count and dates give a new name,
    so a stored study is resumed only on exactly the data it was tuned on.
    """
    h = hashlib.sha256()
    for key in sorted(data):
        h.update(key.encode())
        h.update(_frame_digest(data[key]))
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    return f"{kind}-{h.hexdigest()[:12]}"


class OptunaMlflowCallback:
    """Logs every finished trial as a nested run of the active MLflow run.

    The nested run holds the trial's parameters (``param_prefix`` + name), its
    ``user_attrs["metrics"]`` (``metric_prefix`` + name), its objective value under
    ``value_key``, its intermediate values as a history under ``step_key``, and tags
    ``kind=optuna-trial``, ``study``, ``state`` plus ``tags``. Without an active run
    (a plain Python call) it does nothing.
    """

    def __init__(
        self,
        label: str,
        *,
        value_key: str | None = None,
        metric_prefix: str = "",
        param_prefix: str = "",
        step_key: str | None = None,
        tags: Mapping[str, str] | None = None,
        log_each: bool = False,
    ) -> None:
        self.label = label
        self.value_key = value_key
        self.metric_prefix = metric_prefix
        self.param_prefix = param_prefix
        self.step_key = step_key
        self.tags = dict(tags or {})
        self.log_each = log_each

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self.log_each:
            log.info(
                "%s trial %d (%s): %s %s",
                self.label,
                trial.number,
                trial.state.name.lower(),
                "-" if trial.value is None else f"{trial.value:.4f}",
                trial.params,
            )
        parent = mlflow.active_run()
        if parent is None:
            return
        now = int(time.time() * 1000)
        values = {
            f"{self.metric_prefix}{k}": float(v)
            for k, v in trial.user_attrs.get("metrics", {}).items()
        }
        # per validation window (rolling origins): <prefix><metric>_w<i>
        for i, window in enumerate(trial.user_attrs.get("windows", [])):
            values |= {
                f"{self.metric_prefix}{k}_w{i}": float(v)
                for k, v in window.items()
                if isinstance(v, int | float)
            }
        if self.value_key and trial.value is not None:
            values[self.value_key] = float(trial.value)
        metrics = [Metric(k, v, now, 0) for k, v in values.items()]
        if self.step_key:
            metrics += [
                Metric(self.step_key, float(v), now, int(step))
                for step, v in sorted(trial.intermediate_values.items())
            ]
        # One batch per trial (create, log_batch, terminate): a nested run logged call by
        # call is a dozen SQLite transactions, seconds per trial on a busy machine.
        client = mlflow.MlflowClient()
        run = client.create_run(
            parent.info.experiment_id,
            run_name=f"{self.label}-trial-{trial.number}",
            tags={
                "mlflow.parentRunId": parent.info.run_id,
                "kind": "optuna-trial",
                "study": study.study_name,
                "state": trial.state.name,
                **self.tags,
            },
        )
        params = [Param(f"{self.param_prefix}{k}", str(v)) for k, v in trial.params.items()]
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        client.set_terminated(run.info.run_id)


def open_study(
    name: str,
    storage_dir: str | None,
    db_file: str,
    direction: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """The study ``name`` in ``<storage_dir>/<db_file>`` (SQLite), resumed if it exists;
    in memory when ``storage_dir`` is null."""
    storage = None
    if storage_dir:
        Path(storage_dir).mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{Path(storage_dir) / db_file}"
    return optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
    )


ChildRuns = dict[str, dict[str, Any]]


class MlflowChildRunsDataset(AbstractDataset[ChildRuns, ChildRuns]):
    """Saves ``{name: {"metrics": {key: value}, "params": {...}, "tags": {...}}}`` as one
    finished child run per name, nested under the active (kedro-mlflow) run.

    Child runs share metric keys (``test/ndcg_at_10``...), so selecting them in the MLflow
    UI charts them side by side. ``name_tag`` (default ``tailor.candidate``) holds the name.
    Without an active run it logs a line and writes nothing.
    """

    def __init__(
        self,
        kind: str,
        name_tag: str = CANDIDATE_TAG,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._kind = kind
        self._name_tag = name_tag
        self.metadata = metadata

    def save(self, data: ChildRuns) -> None:
        parent = mlflow.active_run()
        if parent is None:
            log.info("no active MLflow run; %d %s child runs not logged", len(data), self._kind)
            return
        client = mlflow.MlflowClient()
        for name, content in data.items():
            tags = {
                "mlflow.parentRunId": parent.info.run_id,
                "kind": self._kind,
                self._name_tag: name,
                **{k: str(v) for k, v in content.get("tags", {}).items()},
            }
            run = client.create_run(parent.info.experiment_id, tags=tags, run_name=name)
            now = int(time.time() * 1000)
            client.log_batch(
                run.info.run_id,
                metrics=[
                    Metric(k, float(v), now, 0) for k, v in content.get("metrics", {}).items()
                ],
                params=[Param(k, str(v)) for k, v in content.get("params", {}).items()],
            )
            client.set_terminated(run.info.run_id)
        log.info(
            "logged %d %s child runs under run %s", len(data), self._kind, parent.info.run_name
        )

    def load(self) -> ChildRuns:
        raise DatasetError("MlflowChildRunsDataset is write-only")

    def _describe(self) -> dict[str, Any]:
        return {"kind": self._kind, "name_tag": self._name_tag}


def runs_page_urls(tracking_uri: str, base_url: str) -> dict[str, str]:
    """The MLflow UI link to each experiment's runs table, in the model-training view.

    MLflow 3.17's UI takes the view from the ``workflowType`` URL parameter or the browser's
    last choice (GenAI by default), not from the experiment's ``mlflow.experimentKind`` tag,
    so a plain link to an experiment opens its (empty) GenAI overview.
    """
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    return {
        e.name: f"{base_url.rstrip('/')}/#/experiments/{e.experiment_id}/runs"
        "?workflowType=machine_learning"
        for e in client.search_experiments()
        if e.name != "Default" or client.search_runs([e.experiment_id], max_results=1)
    }


if __name__ == "__main__":  # `make mlflow-ui` prints where to click
    import sys

    uri, base = sys.argv[1], sys.argv[2]
    for experiment, url in runs_page_urls(uri, base).items():
        print(f"{experiment}: {url}")
