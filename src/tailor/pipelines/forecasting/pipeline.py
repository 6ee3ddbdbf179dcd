"""The forecasting pipeline: demand (candidates chosen on validation folds), next purchase,
replenishment."""

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.forecasting import customer_nodes as c
from tailor.pipelines.forecasting import nodes as n

DEMAND = "params:forecasting.demand"
NEXT = "params:forecasting.next_purchase"


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            Node(
                n.plan_demand,
                ["daily_demand", "demand_lines", DEMAND],
                "forecast_windows",
                name="plan_demand",
            ),
            Node(
                n.tune_demand,
                ["daily_demand", "forecast_windows", DEMAND, "params:seed"],
                ["prophet_best_params", "forecast_tuning_trials"],
                name="tune_demand",
            ),
            Node(
                n.evaluate_demand,
                [
                    "daily_demand",
                    "demand_lines",
                    "customer_segments_train",
                    "prophet_best_params",
                    "forecast_windows",
                    DEMAND,
                ],
                [
                    "forecast_results",
                    "holdout_forecasts",
                    "forecast_selection",
                    "demand_forecast_metrics",
                    "forecast_tags",
                ],
                name="evaluate_demand",
            ),
            Node(
                n.plot_demand,
                [
                    "daily_demand",
                    "holdout_forecasts",
                    "forecast_results",
                    "forecast_windows",
                    DEMAND,
                ],
                "forecast_plots",
                name="plot_demand",
            ),
            Node(
                n.forecast_demand,
                [
                    "daily_demand",
                    "demand_lines",
                    "customer_segments_serving",
                    "prophet_best_params",
                    "forecast_selection",
                    "forecast_windows",
                    DEMAND,
                ],
                "demand_forecast",
                name="forecast_demand",
            ),
            Node(
                c.evaluate_next_purchase,
                ["customer_lines", "customer_segments_train", "params:split", NEXT, "params:seed"],
                ["next_purchase_evaluation", "next_purchase_metrics"],
                name="evaluate_next_purchase",
            ),
            Node(
                n.write_forecast_report,
                ["forecast_results", "forecast_windows", "next_purchase_evaluation"],
                "forecast_report",
                name="write_forecast_report",
            ),
            Node(
                c.predict_next_purchase,
                ["customer_lines", "next_purchase_evaluation", NEXT, "params:seed"],
                "next_purchase_predictions",
                name="predict_next_purchase",
            ),
            Node(
                c.build_replenishment,
                ["customer_lines", "params:split", "params:forecasting.replenishment"],
                [
                    "replenishment_candidates",
                    "replenishment_evaluation",
                    "replenishment_metrics",
                ],
                name="build_replenishment",
            ),
        ],
        tags="forecasting",
    )
