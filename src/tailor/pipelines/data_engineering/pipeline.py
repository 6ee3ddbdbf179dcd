"""The data_engineering pipeline."""

from kedro.pipeline import Node, Pipeline

from tailor.live_events import merge_live_events
from tailor.pipelines.data_engineering import nodes as n

SOURCES = ["users", "events", "email", "campaigns"]
CAMPAIGN_TABLES = ["campaigns", "campaign_info", "campaign_responses"]


def create_pipeline(**kwargs: object) -> Pipeline:
    feature_inputs = ["customer_lines", *(f"{s}_clean" for s in SOURCES)]
    return Pipeline(
        [
            Node(
                n.validate_raw_tables,
                [
                    "raw_transactions",
                    "raw_users",
                    "raw_events",
                    "raw_email",
                    "raw_items",
                    "suppression_list",
                    *(f"raw_{t}" for t in CAMPAIGN_TABLES),
                    "params:data_engineering.sources",
                    "params:data_engineering.data_end",
                ],
                [
                    "transactions_validated",
                    "users_validated",
                    "events_validated",
                    "email_validated",
                    "items_validated",
                    "suppression_validated",
                    *(f"{t}_validated" for t in CAMPAIGN_TABLES),
                ],
                name="validate_raw_tables",
            ),
            Node(
                merge_live_events,
                [
                    "transactions_validated",
                    "events_validated",
                    "raw_live_events",
                    "params:data_engineering.data_end",
                ],
                ["transactions_with_live", "events_with_live"],
                name="merge_live_events",
            ),
            Node(
                n.clean_transactions,
                [
                    "transactions_with_live",
                    "users_validated",
                    "suppression_validated",
                    "params:data_engineering.cleaning",
                    "params:split",
                ],
                ["demand_lines", "customer_lines", "cleaning_report", "data_engineering_metrics"],
                name="clean_transactions",
            ),
            Node(
                n.filter_sources,
                [
                    "users_validated",
                    "events_with_live",
                    "email_validated",
                    *(f"{t}_validated" for t in CAMPAIGN_TABLES),
                    "suppression_validated",
                ],
                [f"{s}_clean" for s in SOURCES],
                name="filter_sources",
            ),
            Node(
                n.build_item_catalog,
                ["demand_lines", "items_validated", "params:data_engineering.catalog"],
                "item_catalog",
                name="build_item_catalog",
            ),
            Node(
                n.build_item_catalog_train,
                [
                    "demand_lines",
                    "items_validated",
                    "params:data_engineering.catalog",
                    "params:split",
                ],
                "item_catalog_train",
                name="build_item_catalog_train",
            ),
            Node(
                n.split_bounds,
                ["interactions", "params:split"],
                "split_bounds",
                name="split_bounds",
            ),
            Node(n.daily_demand, "demand_lines", "daily_demand", name="daily_demand"),
            Node(n.interaction_lines, "customer_lines", "interactions", name="interaction_lines"),
            Node(
                n.split_interactions,
                ["interactions", "params:split"],
                [
                    "interactions_train",
                    "interactions_test",
                    "interactions_fit",
                    "interactions_val",
                    "split_metrics",
                ],
                name="split_interactions",
            ),
            Node(
                n.user_item_matrix, "interactions_train", "user_item_train", name="user_item_matrix"
            ),
            Node(
                n.features_at_validation_cutoff,
                [*feature_inputs, "params:split"],
                "customer_features_val",
                name="features_at_validation_cutoff",
            ),
            Node(
                n.features_at_cutoff,
                [*feature_inputs, "params:split"],
                "customer_features_train",
                name="features_at_cutoff",
            ),
            Node(
                n.features_at_end,
                feature_inputs,
                "customer_features_serving",
                name="features_at_end",
            ),
        ],
        tags="data_engineering",
    )
