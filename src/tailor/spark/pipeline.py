"""The data_engineering pipeline on Spark, and how the other pipelines read its outputs.

Same node names, parameters and dataset names as ``tailor.pipelines.data_engineering``.
Tables written by Spark are transcoded (Kedro's ``name@spark`` / ``name@pandas``, both
in conf/spark/catalog.yml on one path): Spark nodes read and write ``name@spark``; the
pandas pipelines downstream read the same Parquet as ``name@pandas``, unchanged.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.data_engineering.pipeline import CAMPAIGN_TABLES
from tailor.spark import nodes as n

SOURCES = ["users", "events", "email"]
# Outputs written by Spark (the rest are small pandas tables or metrics).
SPARK_TABLES = (
    "demand_lines",
    "customer_lines",
    "interactions",
    "interactions_train",
    "interactions_test",
    "interactions_fit",
    "interactions_val",
    "user_item_train",
    "customer_features_val",
    "customer_features_train",
    "customer_features_serving",
    *(f"{s}_clean" for s in SOURCES),
)


def _s(name: str) -> str:
    return f"{name}@spark"


def create_pipeline(**kwargs: object) -> Pipeline:
    # campaign exposures are a small pandas table (tailor.spark.nodes.filter_sources)
    feature_inputs = [_s("customer_lines"), *(_s(f"{s}_clean") for s in SOURCES)]
    feature_inputs.append("campaigns_clean")
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
                n.clean_transactions,
                [
                    "transactions_validated",
                    "users_validated",
                    "suppression_validated",
                    "params:data_engineering.cleaning",
                    "params:split",
                ],
                [
                    _s("demand_lines"),
                    _s("customer_lines"),
                    "cleaning_report",
                    "data_engineering_metrics",
                ],
                name="clean_transactions",
            ),
            Node(
                n.filter_sources,
                [
                    "users_validated",
                    "events_validated",
                    "email_validated",
                    *(f"{t}_validated" for t in CAMPAIGN_TABLES),
                    "suppression_validated",
                ],
                [*(_s(f"{s}_clean") for s in SOURCES), "campaigns_clean"],
                name="filter_sources",
            ),
            Node(
                n.build_item_catalog,
                [_s("demand_lines"), "items_validated", "params:data_engineering.catalog"],
                "item_catalog",
                name="build_item_catalog",
            ),
            Node(
                n.build_item_catalog_train,
                [
                    _s("demand_lines"),
                    "items_validated",
                    "params:data_engineering.catalog",
                    "params:split",
                ],
                "item_catalog_train",
                name="build_item_catalog_train",
            ),
            Node(
                n.split_bounds,
                [_s("interactions"), "params:split"],
                "split_bounds",
                name="split_bounds",
            ),
            Node(n.daily_demand, _s("demand_lines"), "daily_demand", name="daily_demand"),
            Node(
                n.interaction_lines,
                _s("customer_lines"),
                _s("interactions"),
                name="interaction_lines",
            ),
            Node(
                n.split_interactions,
                [_s("interactions"), "params:split"],
                [
                    _s("interactions_train"),
                    _s("interactions_test"),
                    _s("interactions_fit"),
                    _s("interactions_val"),
                    "split_metrics",
                ],
                name="split_interactions",
            ),
            Node(
                n.user_item_matrix,
                _s("interactions_train"),
                _s("user_item_train"),
                name="user_item_matrix",
            ),
            Node(
                n.features_at_validation_cutoff,
                [*feature_inputs, "params:split"],
                _s("customer_features_val"),
                name="features_at_validation_cutoff",
            ),
            Node(
                n.features_at_cutoff,
                [*feature_inputs, "params:split"],
                _s("customer_features_train"),
                name="features_at_cutoff",
            ),
            Node(
                n.features_at_end,
                feature_inputs,
                _s("customer_features_serving"),
                name="features_at_end",
            ),
        ],
        tags="data_engineering",
    )


def read_as_pandas(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with its inputs among the Spark-written tables read as ``name@pandas``."""
    mapping = {name: f"{name}@pandas" for name in SPARK_TABLES if name in pipeline.inputs()}
    return Pipeline(pipeline, inputs=mapping) if mapping else pipeline


def with_spark_engine(pipelines: dict[str, Pipeline]) -> dict[str, Pipeline]:
    """The registry under ``--env spark``: Spark data engineering, pandas readers after it."""
    out = {name: read_as_pandas(p) for name, p in pipelines.items() if name != "data_engineering"}
    out["data_engineering"] = create_pipeline()
    return out
