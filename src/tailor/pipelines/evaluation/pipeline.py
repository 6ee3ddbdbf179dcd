"""The evaluation pipeline: hold-out protocol → per-user metrics → breakdowns, audit, report."""

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.evaluation import nodes as n


def create_pipeline(**kwargs: object) -> Pipeline:
    p = "params:evaluation"
    return Pipeline(
        [
            Node(
                n.prepare_recommendations,
                ["recommendations_test", "interactions_train", p],
                "evaluation_recommendations",
                name="prepare_recommendations",
            ),
            Node(
                n.build_truth,
                ["interactions_train", "interactions_test", "params:split", p],
                ["evaluation_truth", "evaluation_population"],
                name="build_truth",
            ),
            Node(
                n.score_users,
                [
                    "evaluation_recommendations",
                    "evaluation_truth",
                    "interactions_train",
                    "item_catalog",
                    p,
                ],
                "evaluation_per_user",
                name="score_users",
            ),
            Node(
                n.score_next_basket,
                ["recommendations_test_nb", "interactions_train", "interactions_test", p],
                "evaluation_per_user_nb",
                name="score_next_basket",
            ),
            Node(
                n.summarise_next_basket,
                ["evaluation_per_user_nb", p, "params:seed"],
                "evaluation_next_basket",
                name="summarise_next_basket",
            ),
            Node(
                n.assign_groups,
                [
                    "evaluation_per_user",
                    "customer_features_train",
                    "customer_segments_train",
                    "interactions_test",
                    p,
                ],
                "evaluation_user_groups",
                name="assign_groups",
            ),
            Node(
                n.summarise,
                [
                    "evaluation_per_user",
                    "evaluation_recommendations",
                    "item_catalog",
                    "interactions_train",
                    p,
                    "params:seed",
                ],
                "evaluation_table",
                name="summarise",
            ),
            Node(
                n.break_down,
                ["evaluation_per_user", "evaluation_user_groups", p, "params:seed"],
                "evaluation_breakdowns",
                name="break_down",
            ),
            Node(
                n.audit_fairness,
                [
                    "evaluation_per_user",
                    "evaluation_user_groups",
                    "evaluation_recommendations",
                    "evaluation_truth",
                    "interactions_train",
                    "item_catalog",
                    p,
                ],
                [
                    "evaluation_quality_gaps",
                    "evaluation_exposure",
                    "evaluation_popularity_bias",
                    "evaluation_category_parity",
                    "evaluation_flags",
                ],
                name="audit_fairness",
            ),
            # the flags become tags of the MLflow run (searchable: tags.fairness.flagged)
            Node(n.run_tags, "evaluation_flags", "evaluation_tags", name="tag_run_with_flags"),
            Node(
                n.write_report,
                [
                    "evaluation_table",
                    "evaluation_breakdowns",
                    "evaluation_quality_gaps",
                    "evaluation_popularity_bias",
                    "evaluation_category_parity",
                    "evaluation_flags",
                    "evaluation_population",
                    "params:split",
                    p,
                    "evaluation_next_basket",
                ],
                "evaluation_report",
                name="write_report",
            ),
            Node(
                n.make_plots,
                ["evaluation_table", "evaluation_breakdowns", "evaluation_exposure", p],
                [
                    "evaluation_metric_curves_plot",
                    "evaluation_group_bars_plot",
                    "evaluation_popularity_bias_plot",
                ],
                name="make_plots",
            ),
            # candidates as child runs of the kedro run: the MLflow UI charts them side by side
            Node(
                n.candidate_runs,
                ["evaluation_table", p],
                "evaluation_candidate_runs",
                name="log_candidate_runs",
            ),
            Node(
                n.mlflow_metrics,
                [
                    "evaluation_table",
                    "evaluation_breakdowns",
                    "evaluation_quality_gaps",
                    "evaluation_popularity_bias",
                    "evaluation_category_parity",
                    "evaluation_population",
                    p,
                    "evaluation_next_basket",
                ],
                "evaluation_metrics",
                name="mlflow_metrics",
            ),
        ],
        tags="evaluation",
    )
