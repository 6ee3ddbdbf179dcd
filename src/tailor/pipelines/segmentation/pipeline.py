"""The segmentation pipeline: clusters and rule segments for each feature snapshot."""

from kedro.pipeline import Node, Pipeline

from tailor.pipelines.segmentation import nodes as n

RULES = "params:segmentation.rules"


def create_pipeline(**kwargs: object) -> Pipeline:
    params = ["params:segmentation", "params:seed"]
    return Pipeline(
        [
            Node(
                n.fit_segmentation,
                ["customer_features_train", *params],
                ["segmentation_model", "segmentation_candidates"],
                name="fit_segmentation",
            ),
            Node(
                n.fit_segmentation,
                ["customer_features_val", *params],
                ["segmentation_model_val", "segmentation_candidates_val"],
                name="fit_segmentation_val",
            ),
            Node(
                n.assign_segments,
                ["customer_features_val", "segmentation_model_val", RULES],
                "customer_segments_val",
                name="assign_segments_val",
            ),
            Node(
                n.assign_segments,
                ["customer_features_train", "segmentation_model", RULES],
                "customer_segments_train",
                name="assign_segments_train",
            ),
            Node(
                n.assign_segments,
                ["customer_features_serving", "segmentation_model", RULES],
                "customer_segments_serving",
                name="assign_segments_serving",
            ),
            Node(
                n.profile_segments,
                [
                    "customer_segments_serving",
                    "customer_features_serving",
                    "customer_lines",
                    "item_catalog",
                    RULES,
                    "params:segmentation.profiles",
                ],
                [
                    "segment_profiles",
                    "segment_rules",
                    "segment_sizes_plot",
                    "segment_rfm_plot",
                ],
                name="profile_segments",
            ),
            Node(
                n.plot_candidates,
                ["segmentation_candidates", "params:segmentation"],
                "segmentation_candidates_plot",
                name="plot_candidates",
            ),
            Node(
                n.measure_stability,
                [
                    "customer_features_train",
                    "customer_segments_train",
                    "segmentation_model",
                    "segmentation_model_val",
                    "customer_lines",
                    "users_clean",
                    "events_clean",
                    "email_clean",
                    "campaigns_clean",
                    "params:segmentation",
                ],
                "segmentation_metrics",
                name="measure_stability",
            ),
        ],
        tags="segmentation",
    )
