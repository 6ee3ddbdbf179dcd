"""No false alarms out of sample: a later stretch of an undrifted synthetic shop flags nothing.

test_false_alarms checks half-splits of the very window the thresholds are calibrated on;
here the current window is later than the calibration window (the months after the
cut-off), in a world of another seed than the other tests use, once through
`kedro run --pipeline monitoring` and once with different customers on the two sides.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.pipelines.monitoring import nodes
from tests.conftest import make_project_copy, run_kedro

pytestmark = pytest.mark.e2e

# another world than the session's (seed 7, 300 users); no drift injected
WORLD = "synthetic_users=600,synthetic_seed=11,synthetic_drift=false"
TABLES = ("customer_lines", "users_clean", "events_clean", "email_clean", "campaigns_clean")


@pytest.fixture(scope="module")
def null_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project_copy(tmp_path_factory.mktemp("null_project"))
    run_kedro(project, "--env", "synthetic", "--pipeline", "data_engineering", "--params", WORLD)
    return project


@pytest.fixture(scope="module")
def catalog_inputs(null_project: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The monitoring inputs and parameters, read through the project's own config loader."""
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from tailor.settings import CONFIG_LOADER_ARGS

    runtime = dict(pair.split("=") for pair in WORLD.split(","))
    loader = OmegaConfigLoader(
        str(null_project / "conf"),
        **{**CONFIG_LOADER_ARGS, "default_run_env": "synthetic"},
        runtime_params=runtime,
    )
    catalog = DataCatalog.from_config(loader["catalog"])
    here = os.getcwd()
    os.chdir(null_project)  # the catalog's paths are relative to the project
    try:
        tables = {name: catalog.load(name) for name in TABLES}
    finally:
        os.chdir(here)
    return tables, loader["parameters"]


def _halves(tables: dict[str, pd.DataFrame], seed: int) -> tuple[dict, dict]:
    """The tables cut into two random, disjoint halves of the customers."""
    ids = tables["customer_lines"]["user_id"].dropna().unique()
    first = set(np.random.default_rng(seed).permutation(ids)[: len(ids) // 2])

    def side(inside: bool) -> dict[str, pd.DataFrame]:
        return {
            name: t[t["user_id"].isin(first) == inside] if "user_id" in t else t
            for name, t in tables.items()
        }

    return side(True), side(False)


def _windows(tables: dict[str, pd.DataFrame], params: dict[str, Any]) -> tuple:
    return nodes.build_windows(*(tables[n] for n in TABLES), params["split"], params["monitoring"])


def test_pipeline_flags_no_column_on_the_later_window(null_project: Path) -> None:
    run_kedro(null_project, "--env", "synthetic", "--pipeline", "monitoring", "--params", WORLD)
    out = null_project / "data/synthetic/08_reporting/monitoring"
    drift = pd.read_csv(out / "drift.csv")
    assert len(drift) >= 20  # purchase, clickstream, e-mail and demographic columns
    assert not drift["drifted"].any(), drift.loc[drift["drifted"]]
    windows = json.loads((out / "retrain_recommended.json").read_text())["windows"]
    # the current window is the stretch after the cut-off, later than the reference
    assert windows["reference"] < windows["current"]


def test_other_customers_in_the_later_window_flag_no_column(catalog_inputs) -> None:
    tables, params = catalog_inputs
    for seed in range(3):
        calibrated_on, later = _halves(tables, seed)
        reference = _windows(calibrated_on, params)[0]  # half A, training window
        current = _windows(later, params)[1]  # half B, the window after the cut-off
        assert not set(reference["user_id"]) & set(current["user_id"])
        assert reference["window"].max() < current["window"].min()
        table = nodes.data_drift(reference, current, params["monitoring"])[2]
        assert not table["drifted"].any(), (seed, table.loc[table["drifted"]])


def test_the_same_comparison_flags_a_real_price_rise(catalog_inputs) -> None:
    """Power: the comparison above is not blind; prices 40 % up in the later window flag."""
    tables, params = catalog_inputs
    calibrated_on, later = _halves(tables, 0)
    reference = _windows(calibrated_on, params)[0]
    lines = later["customer_lines"].copy()
    lines.loc[lines["ts"] >= pd.Timestamp(params["split"]["cutoff"]), "unit_price"] *= 1.4
    current = _windows({**later, "customer_lines": lines}, params)[1]
    table = nodes.data_drift(reference, current, params["monitoring"])[2].set_index("column")
    assert table.loc["unit_price", "drifted"], table.loc["unit_price"]
    assert not table.loc[["recency_days", "frequency", "tenure_days", "age"], "drifted"].any()
