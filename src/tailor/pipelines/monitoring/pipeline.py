"""Monitoring pipeline: reference (training window) vs current (newest window)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.monitoring import nodes


def create_pipeline(**kwargs: object) -> Pipeline:
    p = "params:monitoring"
    return Pipeline(
        [
            Node(
                nodes.build_windows,
                [
                    "customer_lines",
                    "users_clean",
                    "events_clean",
                    "email_clean",
                    "campaigns_clean",
                    "params:split",
                    p,
                ],
                [
                    "monitoring_reference_customers",
                    "monitoring_current_customers",
                    "monitoring_reference_lines",
                    "monitoring_current_lines",
                    "monitoring_windows",
                ],
                name="monitoring_windows",
            ),
            Node(
                nodes.data_drift,
                ["monitoring_reference_customers", "monitoring_current_customers", p],
                [
                    "monitoring_data_drift_html",
                    "monitoring_data_drift_json",
                    "monitoring_drift_table",
                    "monitoring_drift_dump",
                    "monitoring_drift_summary",
                ],
                name="monitoring_data_drift",
            ),
            Node(
                nodes.data_quality,
                [
                    "monitoring_reference_customers",
                    "monitoring_current_customers",
                    "monitoring_reference_lines",
                    "monitoring_current_lines",
                    p,
                ],
                [
                    "monitoring_quality_customers_html",
                    "monitoring_quality_customers_json",
                    "monitoring_quality_lines_html",
                    "monitoring_quality_lines_json",
                    "monitoring_quality_table",
                    "monitoring_quality_dumps",
                ],
                name="monitoring_data_quality",
            ),
            Node(
                nodes.prediction_drift,
                [
                    "monitoring_recommendations",
                    "monitoring_reference_lines",
                    "monitoring_current_lines",
                    p,
                ],
                [
                    "monitoring_prediction_drift_html",
                    "monitoring_prediction_drift_json",
                    "monitoring_prediction_table",
                    "monitoring_prediction_dumps",
                    "monitoring_prediction_summary",
                ],
                name="monitoring_prediction_drift",
            ),
            Node(
                nodes.retrain_signal,
                [
                    "monitoring_drift_summary",
                    "monitoring_prediction_summary",
                    "monitoring_quality_table",
                    "monitoring_holdout_metrics",
                    "monitoring_windows",
                    p,
                ],
                ["retrain_recommended", "monitoring_tags", "monitoring_metrics"],
                name="monitoring_retrain_signal",
            ),
            Node(
                nodes.workspace_runs,
                [
                    "monitoring_drift_dump",
                    "monitoring_quality_dumps",
                    "monitoring_prediction_dumps",
                    "monitoring_windows",
                ],
                "monitoring_evidently_workspace",
                name="monitoring_workspace",
            ),
        ]
    )
