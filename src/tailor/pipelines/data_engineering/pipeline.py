"""The data_engineering pipeline: Ibis expressions run by the run's backend.

Line tables pass between nodes as Ibis tables (in-memory names ``ibis_*``) and are written
by ``write_*`` nodes in the row order the model pipelines expect; per-customer, per-item
and per-day tables are pandas frames.
"""

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.data_engineering import table_nodes as n
from tailor.tables import live_events

SOURCES = ["users", "events", "email", "campaigns"]
CAMPAIGN_TABLES = ["campaigns", "campaign_info", "campaign_responses"]
# Written line tables: (in-memory Ibis table, dataset, row order).
WRITTEN = [
    ("ibis_demand", "demand_lines", n.in_input_order),
    ("ibis_customer", "customer_lines", n.in_input_order),
    ("ibis_users", "users_clean", n.in_input_order),
    ("ibis_events", "events_clean", n.in_input_order),
    ("ibis_email", "email_clean", n.in_input_order),
    ("ibis_interactions", "interactions", n.in_time_order),
    ("ibis_train", "interactions_train", n.in_time_order),
    ("ibis_test", "interactions_test", n.in_time_order),
    ("ibis_fit", "interactions_fit", n.in_time_order),
    ("ibis_val", "interactions_val", n.in_time_order),
]
# Every output that leaves the pipeline as an Ibis table (its catalog entry must write one:
# tailor.datasets.TableDataset).
IBIS_OUTPUTS = [dataset for _, dataset, _ in WRITTEN] + ["user_item_train"]


def create_pipeline(**kwargs: object) -> Pipeline:
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
                live_events.merge_live_events,
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
                ["ibis_demand", "ibis_customer", "cleaning_report", "data_engineering_metrics"],
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
                ["ibis_users", "ibis_events", "ibis_email", "campaigns_clean"],
                name="filter_sources",
            ),
            Node(
                n.build_item_catalog,
                ["ibis_demand", "items_validated", "params:data_engineering.catalog"],
                "item_catalog",
                name="build_item_catalog",
            ),
            Node(
                n.build_item_catalog_train,
                [
                    "ibis_demand",
                    "items_validated",
                    "params:data_engineering.catalog",
                    "params:split",
                ],
                "item_catalog_train",
                name="build_item_catalog_train",
            ),
            Node(
                n.split_bounds,
                ["ibis_interactions", "params:split"],
                "split_bounds",
                name="split_bounds",
            ),
            Node(n.daily_demand, "ibis_demand", "daily_demand", name="daily_demand"),
            Node(
                n.interaction_lines, "ibis_customer", "ibis_interactions", name="interaction_lines"
            ),
            Node(
                n.split_interactions,
                ["ibis_interactions", "params:split"],
                ["ibis_train", "ibis_test", "ibis_fit", "ibis_val", "split_metrics"],
                name="split_interactions",
            ),
            Node(n.user_item_matrix, "ibis_train", "user_item_train", name="user_item_matrix"),
            Node(
                n.customer_feature_snapshots,
                [
                    "ibis_customer",
                    "ibis_users",
                    "ibis_events",
                    "ibis_email",
                    "campaigns_clean",
                    "params:split",
                ],
                [
                    "customer_features_val",
                    "customer_features_train",
                    "customer_features_serving",
                ],
                name="customer_feature_snapshots",
            ),
            *(
                Node(order, table, dataset, name=f"write_{dataset}")
                for table, dataset, order in WRITTEN
            ),
        ],
        tags="data_engineering",
    )
