"""Kedro datasets for monitoring's side effects: MLflow tags/metrics and the Evidently workspace.

Keeping these in the catalog leaves the monitoring nodes pure functions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

log = logging.getLogger(__name__)


class MlflowTagsDataset(AbstractDataset[dict[str, str], dict[str, str]]):
    """Saves a dict as tags of the active MLflow run (no-op with a log line without one)."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def save(self, data: dict[str, str]) -> None:
        if mlflow.active_run() is None:
            log.info("no active MLflow run; tags not logged: %s", data)
            return
        mlflow.set_tags({k: str(v) for k, v in data.items()})

    def load(self) -> dict[str, str]:
        raise DatasetError("MlflowTagsDataset is write-only")

    def _describe(self) -> dict[str, Any]:
        return {}


class LatestMlflowMetricsDataset(AbstractDataset[dict[str, float], dict[str, float]]):
    """The given metrics of the newest other top-level run in the active experiment that
    logged all of them (nested runs, e.g. Optuna trials, log validation metrics too).

    Loads ``{}`` when there is no such run (e.g. the recommender has not been trained yet).
    """

    def __init__(
        self, metrics: list[str], max_runs: int = 500, metadata: dict[str, Any] | None = None
    ) -> None:
        self._metrics = list(metrics)
        self._max_runs = max_runs
        self.metadata = metadata

    def load(self) -> dict[str, float]:
        active = mlflow.active_run()
        if active is None:
            return {}
        runs = mlflow.search_runs(
            experiment_ids=[active.info.experiment_id],
            filter_string=f"metrics.`{self._metrics[0]}` > -1e300",
            order_by=["attributes.start_time DESC"],
            max_results=self._max_runs,
            output_format="list",
        )
        for run in runs:
            nested = "mlflow.parentRunId" in run.data.tags
            complete = all(m in run.data.metrics for m in self._metrics)
            if run.info.run_id != active.info.run_id and not nested and complete:
                found = {m: run.data.metrics[m] for m in self._metrics}
                return {**found, "run_id": run.info.run_id}  # type: ignore[dict-item]
        return {}

    def save(self, data: dict[str, float]) -> None:
        raise DatasetError("LatestMlflowMetricsDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"metrics": self._metrics}


DASHBOARD_COLUMNS = ("recency_days", "basket_size", "unit_price", "top_score", "item_popularity")


def _add_dashboard(project: Any) -> None:
    """Panels over the run history: drifted-column share and the key columns' statistics.

    No ``tab=``: Evidently 0.7.23 lists a panel twice when it is added to an existing tab.
    """
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    project.dashboard.add_panel(
        line_plot_panel(
            title="Share of drifted columns",
            values=[
                PanelMetric(
                    legend="share",
                    metric="DriftedColumnsCount",
                    metric_labels={"value_type": "share"},
                )
            ],
            size="half",
        ),
    )
    project.dashboard.add_panel(
        line_plot_panel(
            title="Drift statistic of key columns",
            values=[
                PanelMetric(legend=col, metric="ValueDrift", metric_labels={"column": col})
                for col in DASHBOARD_COLUMNS
            ],
            size="half",
        ),
    )


class EvidentlyWorkspaceDataset(AbstractDataset[dict[str, str], dict[str, str]]):
    """Adds Evidently snapshots (``{name: Snapshot.dumps()}``) as runs of a local project.

    ``evidently ui --workspace <path>`` (``make monitoring-ui``) then shows the history.
    """

    def __init__(self, path: str, project: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self._project = project
        self.metadata = metadata

    def save(self, data: dict[str, str]) -> None:
        from evidently.core.report import Snapshot
        from evidently.ui.workspace import Workspace

        self._path.mkdir(parents=True, exist_ok=True)
        ws = Workspace.create(str(self._path))
        found = ws.search_project(self._project)
        project = found[0] if found else ws.create_project(self._project)
        if not found:
            project.description = "Tailor monitoring: drift, data quality, prediction drift"
            project.save()
            _add_dashboard(project)
        for name, dumped in data.items():
            ws.add_run(project.id, Snapshot.loads(dumped), name=name)
        log.info(
            "added %d runs to Evidently project '%s' in %s", len(data), self._project, self._path
        )

    def load(self) -> dict[str, str]:
        raise DatasetError("EvidentlyWorkspaceDataset is write-only; open it with `evidently ui`")

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "project": self._project}
