"""Point in time: poisoning every row after the cut-off, of every raw table, changes no
training-time output.

A small synthetic world with every source (transactions, users, events, e-mail, items,
campaigns with their info and responses, a suppression list), plus customers who sign up
after the cut-off. The poison rewrites every dated row after ``split.cutoff`` (who, what,
how many, at what price, opened or not, responded or not...; the timestamps are shuffled
among the table's post-cut-off rows, so the test window keeps its length, the one fact of
it that training reads) and adds cancellations of pre-cut-off purchases and absurd
quantities after it. data_engineering, segmentation and the recommender then run in memory
on both worlds: every output that a training step reads or makes must be identical; the
test-time and serving outputs must differ (the poison reached the run).

Forecasting is not here: its hold-out is the end of the daily series, not ``split.cutoff``.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from tailor.pipelines.data_engineering import create_pipeline as data_engineering
from tailor.pipelines.recommender import create_pipeline as recommender
from tailor.pipelines.segmentation import create_pipeline as segmentation
from tailor.recommenders.windows import Window
from tailor.settings import CONFIG_LOADER_ARGS
from tailor.synthetic import generate
from tests.conftest import ROOT
from tests.pipelines.recommender.test_poisoning import KeptDataset, small_params

CUTOFF = pd.Timestamp("2023-10-01")
# Each dated table and the column that dates its rows.
DATED = {
    "transactions": "ts",
    "users": "signup_ts",
    "events": "ts",
    "email": "sent_ts",
    "campaigns": "sent_ts",
    "campaign_info": "start_ts",
    "campaign_responses": "ts",
    "live_events": "ts",
}
DE_TRAINING = [
    "interactions_train",
    "interactions_fit",
    "interactions_val",
    "user_item_train",
    "item_catalog_train",
    "customer_features_val",
    "customer_features_train",
    "split_bounds",
]
SEGMENTATION_TRAINING = [
    "segmentation_model",
    "segmentation_candidates",
    "segmentation_model_val",
    "segmentation_candidates_val",
    "customer_segments_val",
    "customer_segments_train",
]
RECOMMENDER_TRAINING = [
    "recommender_windows",
    "recommender_users_train",
    "recommender_untuned",
    "recommender_tuned_blend",
    "recommender_selection",
]
# Outputs that read the test window or the whole data: the poison must show there.
POISONED = ["interactions_test", "item_catalog", "customer_features_serving", "daily_demand"]


def world(seed: int = 11) -> dict[str, pd.DataFrame]:
    t = generate({"n_users": 150, "seed": seed})
    rng = np.random.default_rng(seed)
    users, tx = t["users"], t["transactions"]
    # Customers who sign up after the cut-off, with purchases after it.
    late = users.sample(12, random_state=seed).reset_index(drop=True)
    late = late.assign(
        user_id="late" + late.index.astype(str),
        signup_ts=CUTOFF + pd.to_timedelta(rng.uniform(1, 60, len(late)), unit="D"),
    )
    late_tx = tx[tx["ts"] > CUTOFF].sample(60, random_state=seed).reset_index(drop=True)
    late_tx = late_tx.assign(
        user_id=late["user_id"].to_numpy()[np.arange(60) % 12],
        order_id="L" + late_tx.index.astype(str),
        ts=late["signup_ts"].to_numpy()[np.arange(60) % 12] + pd.Timedelta(hours=1),
    )
    # Campaigns over the whole year: exposures, run dates, redemptions (before and after).
    info = pd.DataFrame(
        {
            "campaign_id": [f"c{i}" for i in range(8)],
            "start_ts": pd.date_range("2023-01-15", periods=8, freq="45D"),
            "campaign_type": "coupon",
        }
    )
    exposed = rng.choice(users["user_id"], size=400)
    campaigns = pd.DataFrame(
        {"user_id": exposed, "campaign_id": rng.choice(info["campaign_id"], size=400)}
    ).drop_duplicates(ignore_index=True)
    campaigns["sent_ts"] = campaigns["campaign_id"].map(info.set_index("campaign_id")["start_ts"])
    responses = campaigns.sample(frac=0.3, random_state=seed).reset_index(drop=True)
    responses = responses.assign(
        ts=responses["sent_ts"] + pd.to_timedelta(rng.uniform(1, 40, len(responses)), unit="D")
    )[["user_id", "campaign_id", "ts"]]
    # The service's archived live events (purchases and views), before and after the cut-off.
    live = t["events"][t["events"]["event_type"].isin(["purchase", "view"])]
    live = live.sample(300, random_state=seed).reset_index(drop=True)
    live = live.assign(
        event_id="live" + live.index.astype(str),
        ts=live["ts"] + pd.Timedelta(minutes=5),
        duration_s=None,
        request_id=None,
    )[["event_id", "user_id", "session_id", "ts", "event_type", "item_id", "duration_s",
       "request_id"]]  # fmt: skip
    return {
        "live_events": live,
        "transactions": pd.concat([tx, late_tx], ignore_index=True),
        "users": pd.concat([users, late], ignore_index=True),
        "events": t["events"],
        "email": t["email"],
        "items": t["items"],
        "suppression": users[["user_id"]].iloc[[3, 7]].reset_index(drop=True),
        "campaigns": campaigns,
        "campaign_info": info,
        "campaign_responses": responses,
    }


def poison(raw: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, pd.DataFrame]:
    """Every dated row after the cut-off rewritten; cancellations and outliers added."""
    rng = np.random.default_rng(seed)
    users = raw["users"]["user_id"].to_numpy()
    items = raw["items"]["item_id"].to_numpy()
    campaigns = raw["campaign_info"]["campaign_id"].to_numpy()
    out = {}
    for name, table in raw.items():
        col = DATED.get(name)
        if col is None:
            out[name] = table.copy()
            continue
        table = table.copy()
        late = np.flatnonzero(table[col] > CUTOFF)
        n = len(late)
        pos = table.index[late]
        table.loc[pos, col] = rng.permutation(table.loc[pos, col].to_numpy())
        if "user_id" in table and name != "users":
            table.loc[pos, "user_id"] = rng.choice(users, n)
        if "item_id" in table:
            table.loc[pos, "item_id"] = rng.choice(items, n)
        if "campaign_id" in table and name != "campaign_info":
            pool = campaigns if name != "email" else table["campaign_id"].unique()
            table.loc[pos, "campaign_id"] = rng.choice(pool, n)
        for flag in ("opened", "clicked", "consent"):
            if flag in table:
                table.loc[pos, flag] = rng.random(n) < 0.5
        if name == "users":
            table.loc[pos, "age"] = rng.integers(18, 90, n)
            table.loc[pos, "gender"] = rng.choice(table["gender"].dropna().unique(), n)
            table.loc[pos, "location"] = rng.choice(table["location"].dropna().unique(), n)
        if name == "events":
            for c in ("event_type", "channel", "device"):
                table.loc[pos, c] = rng.choice(table[c].dropna().unique(), n)
        if name == "live_events":  # later redeliveries that reuse earlier ids, first in file
            table.loc[pos, "event_id"] = rng.choice(table["event_id"].to_numpy(), n)
            table.loc[pos, "event_type"] = rng.choice(["purchase", "view"], n)
            table = pd.concat([table.loc[pos], table.drop(index=pos)], ignore_index=True)
        if name == "campaign_info":
            table.loc[pos, "campaign_type"] = "poison"
        if name == "transactions":
            table.loc[pos, "quantity"] = rng.integers(1, 200, n).astype(table["quantity"].dtype)
            table.loc[pos, "unit_price"] = table.loc[pos, "unit_price"] * rng.uniform(0.01, 100, n)
            table.loc[pos, "order_id"] = [f"P{i}" for i in range(n)]
            table.loc[pos, "description"] = "poison"
            table = pd.concat([table, cancellations_and_outliers(table, rng)], ignore_index=True)
        out[name] = table
    return out


def cancellations_and_outliers(tx: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """After the cut-off: cancellations of pre-cut-off purchases (exactly and partly) and
    lines whose quantities and prices would move the outlier rules' medians."""
    before = tx[tx["ts"] <= CUTOFF].sample(80, random_state=1)
    last = tx["ts"].max()
    cancel = before.assign(
        order_id=[f"C{i}" for i in range(len(before))],
        quantity=-before["quantity"] * rng.choice([1, 0.5], len(before)),
        ts=CUTOFF + (last - CUTOFF) * rng.uniform(0.1, 0.9, len(before)),
    )
    bulk = tx[tx["ts"] > CUTOFF].sample(300, random_state=2, replace=True)
    bulk = bulk.assign(
        order_id=[f"B{i}" for i in range(len(bulk))],
        quantity=rng.integers(500, 5000, len(bulk)).astype(tx["quantity"].dtype),
        unit_price=bulk["unit_price"] * 40,
    )
    return pd.concat([cancel, bulk], ignore_index=True)


def parameters() -> dict[str, Any]:
    loader = OmegaConfigLoader(
        str(ROOT / "conf"),
        env="synthetic",
        **{k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"},
    )
    params = dict(loader["parameters"])
    params["recommender"] = small_params()
    params["split"] = {**params["split"], "cutoff": str(CUTOFF.date())}
    return params


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    out = {prefix: value}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out |= flatten(f"{prefix}.{k}", v)
    return out


def run(raw: dict[str, pd.DataFrame]) -> dict[str, Any]:
    pipeline = Pipeline([data_engineering(), segmentation(), recommender()])
    params = parameters()
    data: dict[str, Any] = {f"raw_{k}": v for k, v in raw.items() if k != "suppression"}
    data["suppression_list"] = raw["suppression"]
    data["recommender_champion"] = None
    data["params:seed"] = params["seed"]
    for name in pipeline.inputs():
        if name.startswith("params:"):
            value = params
            for part in name.removeprefix("params:").split("."):
                value = value[part]
            data[name] = value
    catalog = DataCatalog({name: MemoryDataset(value) for name, value in data.items()})
    for name in pipeline.all_outputs():
        catalog[name] = KeptDataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog.load(name) for name in pipeline.all_outputs()}


def timing(name: object) -> bool:
    """Measured durations (wall clock) differ between any two runs."""
    return str(name).endswith("seconds")


def assert_same(name: str, a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame):
        drop = [c for c in a.columns if timing(c)]
        pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop), obj=name)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), name
        for k in a:
            if not timing(k):
                assert_same(f"{name}.{k}", a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), name
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(f"{name}[{i}]", x, y)
    elif isinstance(a, Window):
        for field in ("start", "end", "fit", "items", "n_items_all", "users", "relevant"):
            assert_same(f"{name}.{field}", getattr(a, field), getattr(b, field))
    elif isinstance(a, np.ndarray | pd.Series):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
    elif isinstance(a, str | int | float | bool | type(None) | pd.Timestamp | set):
        assert a == b or (a != a and b != b), (name, a, b)
    else:  # fitted models: the same fit pickles to the same bytes
        assert pickle.dumps(a) == pickle.dumps(b), name


@pytest.fixture(scope="module")
def clean_and_poisoned() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    raw = world()
    dirty = poison(raw)
    return run(raw), run(dirty), dirty


def test_the_poison_touches_every_dated_table(clean_and_poisoned) -> None:
    _, _, dirty = clean_and_poisoned
    raw = world()
    for name, col in DATED.items():
        late = raw[name][col] > CUTOFF
        assert late.any(), name  # every dated table has rows after the cut-off
        changed = dirty[name].iloc[: len(raw[name])][late.to_numpy()].reset_index(drop=True)
        original = raw[name][late].reset_index(drop=True)
        assert not changed.equals(original), name


@pytest.mark.parametrize("name", DE_TRAINING + SEGMENTATION_TRAINING + RECOMMENDER_TRAINING)
def test_training_outputs_are_unchanged(clean_and_poisoned, name: str) -> None:
    clean, dirty, _ = clean_and_poisoned
    assert_same(name, clean[name], dirty[name])


def test_tuned_and_served_choices_are_unchanged(clean_and_poisoned) -> None:
    clean, dirty, _ = clean_and_poisoned
    tuned = [n for n in clean if n.startswith("recommender_tuned_")]
    assert len(tuned) >= 6
    for name in tuned:
        assert_same(name, clean[name], dirty[name])
    served_clean, served_dirty = clean["recommender_served"], dirty["recommender_served"]
    for key in served_clean:
        if "test" not in key:
            assert_same(f"recommender_served.{key}", served_clean[key], served_dirty[key])
    # The model fitted on train (what the test report scores) ranks the same items.
    users = sorted(clean["interactions_train"]["user_id"].unique())[:40]
    a = clean["recommender_served_model"].recommend(users, 10)
    b = dirty["recommender_served_model"].recommend(users, 10)
    pd.testing.assert_frame_equal(a, b)


def test_the_poison_reached_the_test_and_serving_outputs(clean_and_poisoned) -> None:
    clean, dirty, _ = clean_and_poisoned
    for name in POISONED:
        assert not clean[name].equals(dirty[name]), name
    test_clean = clean["recommender_served"]["test_metrics"]
    assert test_clean != dirty["recommender_served"]["test_metrics"]
