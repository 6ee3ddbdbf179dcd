"""Tuning never sees the test window: poisoning it changes no chosen parameter."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from omegaconf import OmegaConf

from tailor.pipelines.recommender import create_pipeline
from tailor.splits import split_by_time
from tests.recommenders.conftest import planted_interactions, planted_items, planted_users

ROOT_PARAMS = "conf/base/parameters_recommender.yml"


def small_params() -> dict[str, Any]:
    from tests.conftest import ROOT

    params = OmegaConf.to_container(OmegaConf.load(ROOT / ROOT_PARAMS), resolve=False)[
        "recommender"
    ]
    params = copy.deepcopy(params)
    # A budget no trial reaches: the trial caps decide, so both runs try the same configs.
    params["tuning"].update(n_trials=3, budget_seconds=3000, storage_dir=None, startup=2)
    for fam in params["families"].values():
        fam["n_trials"] = 3
    params["families"]["ease"]["fixed"]["min_item_buyers"] = 1
    params["min_item_buyers"] = 1
    params["families"]["als"]["space"]["factors"]["choices"] = [4, 8]
    params["families"]["als"]["start"]["factors"] = 8
    params["families"]["lightfm"]["space"]["components"]["choices"] = [4, 8]
    params["families"]["lightfm"]["space"]["epochs"].update(low=2, high=4)
    params["families"]["lightfm"]["start"].update(components=8, epochs=2)
    params["blend"].update(n_trials=4)
    params["baselines"]["lightfm_default"]["params"]["epochs"] = 2
    return params


def inputs(test_override: pd.DataFrame | None = None) -> dict[str, Any]:
    inter = planted_interactions(n_users=80, seed=3)
    train, test = split_by_time(inter, "2023-06-01")
    users = planted_users(inter)
    features = users[["user_id", "country"]].assign(recency_days=np.arange(len(users)) % 9)
    return {
        "interactions_train": train,
        "interactions_test": test if test_override is None else test_override,
        "interactions": inter,
        "split_bounds": {"cutoff": "2023-06-01", "test_end": str(inter["ts"].max())},
        "item_catalog": planted_items(),
        "item_catalog_train": planted_items(),
        "customer_features_val": features,
        "customer_features_train": features,
        "customer_features_serving": features,
        "recommender_champion": None,  # first run: nothing registered yet
        "params:split": {"cutoff": "2023-06-01", "test_end": None},
        "params:recommender": small_params(),
        "params:seed": 5,
    }


class KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so intermediate outputs can be read."""

    def _release(self) -> None:
        pass


def run(data: dict[str, Any]) -> dict[str, Any]:
    pipeline = create_pipeline()
    catalog = DataCatalog({name: MemoryDataset(value) for name, value in data.items()})
    outputs = [
        *sorted(o for o in pipeline.all_outputs() if o.startswith("recommender_tuned")),
        "recommender_untuned",
        "recommender_selection",
        "recommender_untuned_nb",
        "recommender_mixes",
        "recommender_selection_nb",
        "recommender_served",
        "recommendations_test",
        "recommendations_test_nb",
        "recommender_served_model",
    ]
    for name in outputs:
        catalog[name] = KeptDataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog.load(name) for name in outputs}


def test_tuning_nodes_do_not_take_the_test_window() -> None:
    """Windows are built from train and the catalog as of the cut-off; tuning, validation
    and selection read only the windows (tests/test_point_in_time.py poisons the rest)."""
    nodes = {node.name: node for node in create_pipeline().nodes}
    forbidden = {"interactions_test", "interactions", "item_catalog"}
    assert not forbidden & set(nodes["recommender_windows"].inputs)
    for node in nodes.values():
        if node.name.startswith(("tune_", "validate_", "select_")):
            assert not (forbidden | {"interactions_train"}) & set(node.inputs), node.name


def test_poisoned_test_window_changes_no_choice() -> None:
    clean = run(inputs())
    data = inputs()
    test = data["interactions_test"]
    rng = np.random.default_rng(0)
    # Poison: every test purchase becomes a random item; the dates stay in the test window.
    poisoned = test.assign(
        item_id=rng.permutation(planted_items()["item_id"].to_numpy().repeat(len(test) // 40 + 1))[
            : len(test)
        ]
    )
    dirty = run(inputs(poisoned))
    for name in clean:
        if name.startswith("recommender_tuned"):
            assert clean[name].get("params") == dirty[name].get("params"), name
            assert clean[name].get("val_windows") == dirty[name].get("val_windows"), name
    assert clean["recommender_untuned"] == dirty["recommender_untuned"]
    assert clean["recommender_selection"] == dirty["recommender_selection"]
    # the next-basket side: baselines, every mix's setting and scores, its choice
    for name in ("recommender_untuned_nb", "recommender_mixes", "recommender_selection_nb"):
        assert clean[name] == dirty[name], name
    assert clean["recommender_served"]["candidate"] == dirty["recommender_served"]["candidate"]
    assert clean["recommender_served"]["params"] == dirty["recommender_served"]["params"]
    assert clean["recommender_served"]["val_metrics"] == dirty["recommender_served"]["val_metrics"]
    # ...while the test numbers did change: the poison reached the test scoring.
    assert (
        clean["recommender_served"]["test_metrics"] != dirty["recommender_served"]["test_metrics"]
    )
    assert (
        clean["recommender_served"]["test_nb_metrics"]
        != dirty["recommender_served"]["test_nb_metrics"]
    )


def test_the_served_rows_are_the_served_models_lists() -> None:
    """refit_and_score reuses lists it already scored for the `served` rows: they must be
    what the served model itself answers, under both protocols."""
    from tailor.recommenders.evaluate import discovery_lists

    out = run(inputs())
    model = out["recommender_served_model"]
    cols = ["user_id", "rank", "item_id"]
    for key, answer in (
        ("recommendations_test", lambda users, k: discovery_lists(model, users, k)),
        ("recommendations_test_nb", lambda users, k: model.recommend(users, k)),
    ):
        recs = out[key]
        served = recs[recs["candidate"] == "served"][cols].reset_index(drop=True)
        users = sorted(served["user_id"].unique())
        own = answer(users, int(served["rank"].max()))[cols]
        own = own.sort_values(["user_id", "rank"]).reset_index(drop=True)
        served = served.sort_values(["user_id", "rank"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(served, own.astype(served.dtypes.to_dict()), obj=key)
