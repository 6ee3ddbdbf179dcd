"""The forecasting pipeline: demand (tuned Prophet vs baselines), next purchase, replenishment."""

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.forecasting import nodes as n


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            Node(
                n.tune_demand,
                ["daily_demand", "params:forecasting.demand", "params:seed"],
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
                    "params:forecasting.demand",
                ],
                ["forecast_results", "holdout_forecasts", "demand_forecast_metrics"],
                name="evaluate_demand",
            ),
            Node(
                n.plot_demand,
                [
                    "daily_demand",
                    "holdout_forecasts",
                    "forecast_results",
                    "params:forecasting.demand",
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
                    "forecast_results",
                    "params:forecasting.demand",
                ],
                "demand_forecast",
                name="forecast_demand",
            ),
            Node(
                n.evaluate_next_purchase,
                [
                    "customer_lines",
                    "customer_segments_train",
                    "params:split",
                    "params:forecasting.next_purchase",
                    "params:seed",
                ],
                ["next_purchase_evaluation", "next_purchase_metrics"],
                name="evaluate_next_purchase",
            ),
            Node(
                n.predict_next_purchase,
                ["customer_lines", "params:forecasting.next_purchase"],
                "next_purchase_predictions",
                name="predict_next_purchase",
            ),
            Node(
                n.build_replenishment,
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
