"""Project hooks: what the MLflow UI shows for a `kedro run`, and the Spark engine.

kedro-mlflow creates the experiment and starts one run per `kedro run`; these hooks make
that run readable in the MLflow 3 UI:

- every environment's experiment is tagged as model training (``mlflow.experimentKind``).
  MLflow 3.17.2's UI takes its view from the ``workflowType`` URL parameter or the
  browser's last choice instead, so `make mlflow-ui` also prints each experiment's
  runs-table link (``tailor.tracking.runs_page_urls``);
- the run is named ``<pipelines> · <environment> · <UTC time>`` instead of ``__default__``,
  so runs of different pipelines or data sets are told apart in the runs table. A
  ``tracking.run.name`` set in mlflow.yml still wins.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import mlflow
from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from tailor.progress import enabled as progress_enabled
from tailor.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG

log = logging.getLogger(__name__)


def run_name(pipelines: list[str] | str | None, env: str | None, when: datetime) -> str:
    """``recommender+evaluation · synthetic · 2026-12-02 08:15:03Z``.

    The full run (``__default__``) reads ``all``; no ``--env`` (or ``local``, the untracked
    overrides on top of base) reads ``base``: the data set of the base configuration.
    """
    if isinstance(pipelines, str):
        pipelines = [pipelines]
    names = ["all" if p == "__default__" else p for p in (pipelines or ["__default__"])]
    data = env if env and env != "local" else "base"
    return f"{'+'.join(names)} · {data} · {when.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"


def tag_experiment_kind(experiment_id: str) -> None:
    """Mark the experiment as model training (the MLflow 3 UI then opens on its runs)."""
    client = mlflow.MlflowClient()
    if client.get_experiment(experiment_id).tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


class TrackingHooks:
    """Runs around kedro-mlflow's own hooks (pluggy ``trylast``/``tryfirst`` order them)."""

    def __init__(self) -> None:
        self._context: KedroContext | None = None

    @hook_impl(trylast=True)  # after kedro-mlflow has set up the experiment
    def after_context_created(self, context: KedroContext) -> None:
        self._context = context
        if not progress_enabled():  # MLflow's own artefact bars stay out of CI logs too
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        config = getattr(context, "mlflow", None)
        if config is None:
            return
        experiment = getattr(config.tracking.experiment, "_experiment", None)
        active = mlflow.active_run()
        experiment_id = (
            active.info.experiment_id
            if active is not None
            else getattr(experiment, "experiment_id", None)
        )
        if experiment_id is not None:
            tag_experiment_kind(experiment_id)

    @hook_impl(tryfirst=True)  # before kedro-mlflow starts the run with the configured name
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        config = getattr(self._context, "mlflow", None)
        if config is None or config.tracking.run.name:
            return
        pipelines = run_params.get("pipeline_names") or run_params.get("pipeline_name")
        config.tracking.run.name = run_name(pipelines, run_params.get("env"), datetime.now(UTC))
        log.info("MLflow run name: %s", config.tracking.run.name)


class NodeTimeHooks:
    """CPU and wall seconds of every node, logged; with ``TAILOR_NODE_TIMES`` set, also
    appended to that file as JSON lines (the recommender bench's per-node table)."""

    def __init__(self) -> None:
        self._start: dict[str, tuple[float, float]] = {}

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._start[node.name] = (time.process_time(), time.perf_counter())

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if node.name not in self._start:
            return
        cpu0, wall0 = self._start.pop(node.name)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        log.info("node %s: %.1f s CPU, %.1f s wall", node.name, cpu, wall)
        path = os.environ.get("TAILOR_NODE_TIMES")
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"node": node.name, "cpu": cpu, "wall": wall}) + "\n")


def _spark_engine_active() -> bool:
    module = sys.modules.get("tailor.spark.session")  # never imports pyspark itself
    return bool(module and module.is_active())


def _reload_pipelines() -> None:
    """The registry reads the engine flag: make it run again (it may have run already)."""
    from kedro.framework.project import pipelines

    requested = pipelines._requested_pipelines
    pipelines.configure(pipelines._pipelines_module)
    pipelines.set_requested(requested)


class SparkHooks:
    """Start the SparkSession from ``conf/<env>/spark.yml`` before the pipelines load; the
    data engineering's Ibis expressions then run on it, and ``spark_als`` fits on it.

    Environments without a spark.yml (base, synthetic, …) never start a SparkSession.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        try:
            conf = context.config_loader["spark"]
        except (MissingConfigException, KeyError):
            conf = {}
        was_active = _spark_engine_active()
        if conf:
            from tailor.spark import session

            spark = session.activate(conf)
            log.info("Spark engine on: master %s", spark.sparkContext.master)
            import ibis

            from tailor.tables import backend

            # the data engineering's expressions run on this session (Ibis's PySpark backend)
            backend.use(ibis.pyspark.connect(spark))
        elif was_active:
            from tailor.spark import session
            from tailor.tables import backend

            session.deactivate()
            backend.use(None)
        if was_active != _spark_engine_active():
            _reload_pipelines()
