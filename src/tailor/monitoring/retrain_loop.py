"""`make retrain-if-needed`: monitor, retrain when the signal says so, log the decision.

Runs ``kedro run --pipeline data_engineering`` first when ``monitoring.retrain.refresh_data``
is set (the default), so the newest raw data, the live service's archived events
(``raw_live_events``) included, is what monitoring compares and retraining trains on. Then
``kedro run --pipeline monitoring``; when ``retrain_recommended`` is set, reruns the
training pipelines (``monitoring.retrain.pipelines``) in one kedro run. Whether the new model
is served is the recommender's champion/challenger rule (``tailor.recommenders.champion``:
both compared on the data the champion was not fitted on): this loop reads the registered
model's ``champion`` alias before and after, and when it moved runs the ``serving`` pipeline
(``monitoring.retrain.package_on_promotion``) so the next ``bentoml serve`` answers from the
new champion. The decision (signal, reasons, the comparison and its scores, promoted or
not) is appended to the ``retrain_decisions`` dataset and logged as an MLflow run named
``retrain-if-needed``.

    python -m tailor.monitoring.retrain_loop [--env synthetic] [--params k=v,...]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from omegaconf import OmegaConf

from tailor.recommenders.model_registry import alias_version

log = logging.getLogger("tailor.retrain")


def _kedro(project: Path, args: list[str], env: str | None, params: str | None) -> None:
    cmd = [str(Path(sys.executable).with_name("kedro")), "run", *args]
    cmd += ["--env", env] if env else []
    cmd += ["--params", params] if params else []
    log.info("$ %s", " ".join(cmd))
    subprocess.run(cmd, cwd=project, check=True)


def _parse_params(params: str | None) -> dict[str, Any]:
    """``k=v,a.b=c`` as ``kedro run --params`` reads it (nested, typed)."""
    items = [item.strip() for item in (params or "").split(",") if item.strip()]
    return OmegaConf.to_container(OmegaConf.from_dotlist(items))  # type: ignore[return-value]


def champion(
    client: mlflow.MlflowClient, model: str, metric: str, alias: str = "champion"
) -> dict[str, Any]:
    """Version, source run and validation metric of the model's ``alias`` (or empty).

    The metric is the source run's ``val/<metric>``, else the version's ``val_<metric>`` tag
    that the recommender's champion/challenger rule writes.
    """
    mv = alias_version(client, model, alias)
    if mv is None:
        return {"version": None, "run_id": None, "val": None}
    val = client.get_run(mv.run_id).data.metrics.get(f"val/{metric}") if mv.run_id else None
    if val is None and f"val_{metric}" in mv.tags:
        val = float(mv.tags[f"val_{metric}"])
    return {"version": mv.version, "run_id": mv.run_id, "val": val}


def newest_validation(client: mlflow.MlflowClient, experiment_id: str, metric: str) -> float | None:
    """``val/<metric>`` of the newest top-level run that logged it (not an Optuna trial)."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"metrics.`val/{metric}` > -1e300",
        order_by=["attributes.start_time DESC"],
        max_results=500,
    )
    for run in runs:
        if "mlflow.parentRunId" not in run.data.tags:
            return run.data.metrics[f"val/{metric}"]
    return None


def decide(
    record: dict[str, Any], before: dict[str, Any], after: dict[str, Any], new_val: float | None
) -> dict[str, Any]:
    """The decision row: was retraining run, and did the champion change."""
    retrained = bool(record["retrain_recommended"])
    return {
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "retrain_recommended": retrained,
        "reasons": "; ".join(record.get("reasons", [])),
        "reference": record.get("windows", {}).get("reference"),
        "current": record.get("windows", {}).get("current"),
        "retrained": retrained,
        "old_champion_version": before["version"],
        "old_val_metric": before["val"],
        "new_val_metric": new_val if retrained else None,
        "new_champion_version": after["version"],
        "promoted": retrained
        and after["version"] is not None
        and after["version"] != before["version"],
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None)
    parser.add_argument("--params", default=None, help="passed to every kedro run")
    parser.add_argument("--project", default=".")
    args = parser.parse_args(argv)
    project = Path(args.project).resolve()

    bootstrap_project(project)
    with KedroSession.create(project, env=args.env, runtime_params=_parse_params(args.params)) as s:
        refresh = s.load_context().params["monitoring"]["retrain"].get("refresh_data", True)
    if refresh:
        _kedro(project, ["--pipeline", "data_engineering"], args.env, args.params)
    _kedro(project, ["--pipeline", "monitoring"], args.env, args.params)
    with KedroSession.create(project, env=args.env, runtime_params=_parse_params(args.params)) as s:
        context = s.load_context()  # kedro-mlflow sets the tracking URI and experiment here
        catalog, cfg = context.catalog, context.params["monitoring"]["retrain"]
        record = catalog.load("retrain_recommended")
        client = mlflow.MlflowClient()
        experiment = mlflow.get_experiment_by_name(context.mlflow.tracking.experiment.name)
        metric, model = cfg["holdout_metric"], cfg["registered_model"]
        before = champion(client, model, metric)
        new_val = None
        if record["retrain_recommended"]:
            log.warning("retraining: %s", "; ".join(record["reasons"]))
            pipelines = cfg["pipelines"]  # a list, or "a,b" when overridden with --params
            names = pipelines if isinstance(pipelines, str) else ",".join(pipelines)
            _kedro(project, ["--pipelines", names], args.env, args.params)
            if experiment is not None:
                new_val = newest_validation(client, experiment.experiment_id, metric)
        else:
            log.info("no retraining: the monitoring signal is not set")
        after = champion(client, model, metric)
        row = decide(record, before, after, new_val)
        row["challenger_version"] = champion(client, model, metric, "challenger")["version"]
        if record["retrain_recommended"] and catalog.exists("recommender_registry"):
            registered = catalog.load("recommender_registry")
            for key in ("comparison", "reason", "champion_score", "challenger_score"):
                row[f"registry_{key}"] = registered.get(key)
        row["packaged"] = bool(row["promoted"] and cfg.get("package_on_promotion", True))
        if row["packaged"]:
            _kedro(project, ["--pipeline", "serving"], args.env, args.params)
        history = catalog.load("retrain_decisions")
        catalog.save(
            "retrain_decisions", pd.concat([history, pd.DataFrame([row])], ignore_index=True)
        )
        with mlflow.start_run(
            experiment_id=experiment.experiment_id if experiment else None,
            run_name="retrain-if-needed",
        ):
            mlflow.set_tags(
                {
                    "retrain_recommended": str(row["retrain_recommended"]).lower(),
                    "retrain_reasons": row["reasons"][:4000] or "none",
                    "promoted": str(row["promoted"]).lower(),
                }
            )
            for key in ("old_val_metric", "new_val_metric"):
                if row[key] is not None:
                    mlflow.log_metric(f"retrain/{key}", float(row[key]))
            mlflow.log_metric("retrain/promoted", int(row["promoted"]))
            mlflow.log_dict(json.loads(json.dumps(row, default=str)), "retrain_decision.json")
        log.info("decision: %s", json.dumps(row, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
