"""The ``spark_als`` pipeline (Spark engine only): tune, refit, evaluate, batch top-k."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from tailor.spark import als_nodes as n


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            Node(
                n.tune_spark_als,
                [
                    "interactions_fit@spark",
                    "interactions_val@spark",
                    "params:spark_als",
                    "params:seed",
                ],
                "spark_als_best",
                name="tune_spark_als",
            ),
            Node(
                n.evaluate_spark_als,
                [
                    "interactions_train@spark",
                    "interactions_test@spark",
                    "item_catalog",
                    "spark_als_best",
                    "params:spark_als",
                    "params:recommender.families.als",
                    "params:seed",
                ],
                ["spark_als_topk@spark", "spark_als_comparison", "spark_als_metrics"],
                name="evaluate_spark_als",
            ),
        ],
        tags="spark_als",
    )
