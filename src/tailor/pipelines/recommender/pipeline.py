"""Recommender pipeline: rolling validation windows inside train -> one Optuna study per
family (+ blend) and the untuned baselines on those windows -> selection (validation only)
-> refit everything on train, score on test (the report) -> refit the choice on all data ->
champion/challenger on the data the champion has not seen -> registry."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.recommender.nodes import (
    FAMILIES,
    REPEAT_FAMILIES,
    challenge_champion,
    make_tune_fits_node,
    make_tune_node,
    refit_and_score,
    refit_for_serving,
    registration,
    select_next_basket,
    select_served,
    train_user_attributes,
    tune_blend,
    tune_next_basket,
    validate_untuned,
    validate_untuned_next_basket,
    validation_windows,
)

P = "params:recommender"
SEED = "params:seed"
WINDOWS = "recommender_windows"


def create_pipeline(**kwargs: object) -> Pipeline:
    tuned = [f"recommender_tuned_{f}" for f in FAMILIES]
    repeat = [f"recommender_tuned_{f}" for f in REPEAT_FAMILIES]
    nodes = [
        Node(
            validation_windows,
            [
                "interactions_train",
                "split_bounds",
                "item_catalog_train",
                "customer_features_val",
                "params:split",
                P,
            ],
            WINDOWS,
            name="recommender_windows",
        ),
        Node(
            train_user_attributes,
            ["interactions_train", "customer_features_train", "params:split", P],
            "recommender_users_train",
            name="recommender_users_train",
        ),
    ]
    fits = [f"recommender_fits_{f}" for f in FAMILIES]
    nodes += [
        Node(
            make_tune_fits_node(f),
            [WINDOWS, P, SEED],
            [f"recommender_tuned_{f}", f"recommender_fits_{f}"],
            name=f"tune_{f}",
        )
        for f in FAMILIES
    ]
    # the repeat families' studies start from their untuned baselines' scores
    nodes += [
        Node(
            make_tune_node(f),
            [WINDOWS, P, SEED, "recommender_untuned_nb"],
            f"recommender_tuned_{f}",
            name=f"tune_{f}",
        )
        for f in REPEAT_FAMILIES
    ]
    nodes += [
        Node(validate_untuned, [WINDOWS, P, SEED], "recommender_untuned", name="validate_untuned"),
        Node(
            tune_blend,
            [WINDOWS, P, SEED, *tuned, *fits],
            ["recommender_tuned_blend", "recommender_blend_fits"],
            name="tune_blend",
        ),
        Node(
            select_served,
            [P, "recommender_untuned", "recommender_tuned_blend", *tuned],
            "recommender_selection",
            name="select_served",
        ),
        Node(
            validate_untuned_next_basket,
            [WINDOWS, P, SEED],
            ["recommender_untuned_nb", "recommender_untuned_nb_fits"],
            name="validate_untuned_next_basket",
        ),
        Node(
            tune_next_basket,
            [
                WINDOWS,
                P,
                SEED,
                "recommender_selection",
                "recommender_untuned",
                "recommender_tuned_blend",
                "recommender_blend_fits",
                "recommender_untuned_nb",
                "recommender_untuned_nb_fits",
                *tuned,
                *repeat,
            ],
            "recommender_mixes",
            name="tune_next_basket_mix",
        ),
        Node(
            select_next_basket,
            [P, "recommender_untuned_nb", "recommender_mixes", *repeat],
            "recommender_selection_nb",
            name="select_next_basket",
        ),
        Node(
            refit_and_score,
            [
                "interactions_train",
                "interactions_test",
                "item_catalog_train",
                "recommender_users_train",
                P,
                SEED,
                "recommender_selection",
                "recommender_untuned",
                "recommender_tuned_blend",
                "recommender_selection_nb",
                "recommender_untuned_nb",
                "recommender_mixes",
                *tuned,
                *repeat,
            ],
            [
                "recommendations_test",
                "recommendations_test_nb",
                "recommender_results",
                "recommender_metrics",
                "recommender_served_model",
                "recommender_served",
            ],
            name="refit_and_score",
        ),
        Node(
            refit_for_serving,
            [
                "interactions",
                "item_catalog",
                "customer_features_serving",
                P,
                SEED,
                "recommender_served",
            ],
            ["recommender_serving_model", "recommender_serving_info"],
            name="refit_for_serving",
        ),
        Node(
            challenge_champion,
            [
                "recommender_champion",
                "interactions",
                "item_catalog",
                "customer_features_serving",
                P,
                SEED,
                "recommender_served",
            ],
            ["recommender_decision", "recommender_registry_metrics"],
            name="challenge_champion",
        ),
        Node(
            registration,
            [
                "recommender_serving_model",
                "recommender_serving_info",
                "recommender_decision",
                "item_catalog",
                P,
            ],
            "recommender_registry",
            name="register_recommender",
        ),
    ]
    return Pipeline(nodes)
