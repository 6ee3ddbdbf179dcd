"""Recommender pipeline: user attributes -> one Optuna study per family (+ blend) on the
fit/validation split -> refit on train, score on test -> bundle + registry."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.recommender.nodes import (
    FAMILIES,
    bundle_payload,
    make_tune_node,
    refit_and_score,
    register_served_model,
    tune_blend,
    user_attributes,
)

P = "params:recommender"
SEED = "params:seed"


def create_pipeline(**kwargs: object) -> Pipeline:
    tuned = [f"recommender_tuned_{f}" for f in FAMILIES]
    fit_inputs = ["interactions_fit", "interactions_val", "item_catalog", "recommender_users_val"]
    nodes = [
        Node(
            user_attributes,
            ["customer_features_val", "customer_segments_val", P],
            "recommender_users_val",
            name="recommender_users_val",
        ),
        Node(
            user_attributes,
            ["customer_features_train", "customer_segments_train", P],
            "recommender_users_train",
            name="recommender_users_train",
        ),
    ]
    nodes += [
        Node(make_tune_node(f), [*fit_inputs, P, SEED], f"recommender_tuned_{f}", name=f"tune_{f}")
        for f in FAMILIES
    ]
    nodes += [
        Node(
            tune_blend, [*fit_inputs, P, SEED, *tuned], "recommender_tuned_blend", name="tune_blend"
        ),
        Node(
            refit_and_score,
            [
                "interactions_train",
                "interactions_test",
                "item_catalog",
                "recommender_users_train",
                P,
                SEED,
                *tuned,
                "recommender_tuned_blend",
            ],
            [
                "recommendations_test",
                "recommender_results",
                "recommender_metrics",
                "recommender_served_model",
                "recommender_served",
            ],
            name="refit_and_score",
        ),
        Node(
            bundle_payload,
            ["recommender_served_model", "recommender_served", "item_catalog"],
            "recommender_bundle",
            name="recommender_bundle",
        ),
        Node(
            register_served_model,
            ["recommender_served_model", "recommender_served", "item_catalog", P],
            "recommender_registry",
            name="register_recommender",
        ),
    ]
    return Pipeline(nodes)
