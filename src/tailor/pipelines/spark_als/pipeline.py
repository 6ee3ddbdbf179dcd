"""The ``spark_als`` pipeline: tune, refit, evaluate, batch top-k (``--env spark`` only).

Without the Spark engine (no spark.yml in the environment) it is empty, so pandas
environments never start Spark and their default run is unchanged.
"""

from __future__ import annotations

import logging
import sys

from kedro.pipeline import Node, Pipeline

log = logging.getLogger(__name__)


def create_pipeline(**kwargs: object) -> Pipeline:
    engine = sys.modules.get("tailor.spark.session")
    if engine is None or not engine.is_active():
        log.debug("spark_als: no Spark engine in this environment; the pipeline is empty")
        return Pipeline([])
    from tailor.spark import als_nodes as n

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
                    "item_catalog_train",
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
