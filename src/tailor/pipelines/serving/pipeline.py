"""Serving pipeline (`make package` = `kedro run --pipeline serving`): the version holding
the registry's ``champion`` alias, the data-engineering, segmentation and forecasting
outputs -> the four BentoML models the service loads (``tailor.serving.artefacts``).
Not part of ``__default__``: packaging is a release step, run after the registry moved."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.serving import nodes as n

P = "params:serving"


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            Node(
                n.serving_profiles,
                ["interactions", "customer_features_serving", "serving_segments",
                 "raw_users", "suppression_list", P],
                ["serving_lines", "serving_users", "bento_profiles", "serving_segments_source"],
                name="serving_profiles",
            ),
            Node(
                n.champion_candidates,
                ["serving_champion", "serving_lines", "customer_features_serving",
                 "suppression_list", P],
                "serving_candidates",
                name="champion_candidates",
            ),
            Node(
                n.serving_catalog,
                ["item_catalog", "serving_lines", "serving_users", P, "params:seed"],
                "bento_catalog",
                name="serving_catalog",
            ),
            Node(
                n.serving_next_purchase,
                ["serving_next_purchase_predictions", "serving_replenishment",
                 "suppression_list"],
                ["bento_next_purchase", "serving_next_purchase_sources"],
                name="serving_next_purchase",
            ),
            Node(
                n.packaging_sources,
                ["serving_segments_source", "serving_next_purchase_sources"],
                "serving_sources",
                name="packaging_sources",
            ),
            Node(
                n.serving_recommender,
                ["serving_champion", "serving_candidates", "serving_lines", P,
                 "serving_sources"],
                "bento_recommender",
                name="serving_recommender",
            ),
            Node(
                n.packaging_metrics,
                ["serving_candidates", "serving_users", "serving_sources"],
                "serving_metrics",
                name="packaging_metrics",
            ),
        ],
        tags="serving",
    )  # fmt: skip
