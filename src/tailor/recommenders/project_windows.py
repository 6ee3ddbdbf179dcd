"""The recommender pipeline's validation windows of a Kedro environment, for scripts and
notebooks that study candidates on exactly what tuning sees (never the test window)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tailor.recommenders.windows import Window


def load_windows(root: Path, env: str | None) -> tuple[list[Window], dict[str, Any], int]:
    """The windows of ``env`` (``None``/"base": the default), built by the pipeline's own
    node from the catalog's data_engineering outputs; with the recommender parameters and
    the seed."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from tailor.pipelines.recommender.nodes import validation_windows

    bootstrap_project(root)
    with KedroSession.create(root, env=None if env in (None, "base") else env) as session:
        context = session.load_context()
        catalog, params = context.catalog, context.params
        windows = validation_windows(
            catalog.load("interactions_train"),
            catalog.load("split_bounds"),
            catalog.load("item_catalog_train"),
            catalog.load("customer_features_val"),
            params["split"],
            params["recommender"],
        )
    return windows, params["recommender"], int(params["seed"])
