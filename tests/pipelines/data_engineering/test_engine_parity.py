"""The Ibis data engineering gives today's pandas outputs, table for table, on each backend.

Backends: embedded DuckDB (the default) on every world; Spark (Ibis's PySpark backend, a
local session) on the small worlds, and on the default data and The Complete Journey too
with ``TAILOR_PARITY_SPARK_ALL=1`` (minutes each: not in `make test`).

Both engines run their node functions in pipeline order on the same raw tables of each
world (tests/pipelines/data_engineering/worlds.py): the default data, a slice of it with
planted outliers, suppressed and opted-out customers, example_shop, The Complete Journey
and a synthetic world where events, e-mail, campaigns and users are all non-empty. The Ibis
line tables are written and read back through the pipeline's own dataset and row order.
Asserted: the cleaning report and metrics, and per table the row count and a checksum of
its content (floats to 12 significant digits: a sum of the same values in another order
may differ in its last bit)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from tailor import live_events
from tailor.datasets import TableDataset
from tailor.pipelines.data_engineering import nodes as pandas_nodes
from tailor.pipelines.data_engineering import table_nodes
from tailor.pipelines.data_engineering.pipeline import WRITTEN
from tailor.tables import backend
from tailor.tables import live_events as table_live_events
from tests.pipelines.data_engineering import worlds

OUTPUTS = (
    "demand_lines", "customer_lines", "users_clean", "events_clean", "email_clean",
    "campaigns_clean", "interactions", "interactions_train", "interactions_test",
    "interactions_fit", "interactions_val", "user_item_train", "item_catalog",
    "item_catalog_train", "daily_demand", "customer_features_val", "customer_features_train",
    "customer_features_serving",
)  # fmt: skip
WORLDS = {
    "default_data": lambda: worlds.from_catalog("online_retail"),
    "default_data_slice": worlds.default_data_slice,
    "example_shop": lambda: worlds.from_catalog("example_shop"),
    "complete_journey": worlds.complete_journey,
    "synthetic_world": worlds.synthetic_world,
}
# Dated raw tables and the table each becomes (data_end is checked on them).
SOURCE_TABLE = {"transactions": "demand_lines", "events": "events_clean", "email": "email_clean"}
SPARK_WORLDS = ("synthetic_world", "example_shop", "default_data_slice")
if os.environ.get("TAILOR_PARITY_SPARK_ALL") == "1":
    SPARK_WORLDS = tuple(WORLDS)
CASES = [(w, "duckdb") for w in WORLDS] + [(w, "pyspark") for w in SPARK_WORLDS]
# Sources each world must exercise, so that no case passes on empty tables.
NON_EMPTY = {
    "default_data_slice": ("users_clean",),
    "example_shop": ("users_clean",),
    "complete_journey": ("users_clean", "campaigns_clean"),
    "synthetic_world": ("users_clean", "events_clean", "email_clean", "campaigns_clean"),
}


def run(nodes: Any, raw: dict[str, Any], de: dict[str, Any], split: dict[str, Any]) -> dict:
    """Every data-engineering node of one engine, in pipeline order."""
    tx, users, events, email, items, sup, camp, info, resp = nodes.validate_raw_tables(
        *(raw[t] for t in worlds.TABLES), de["sources"], de.get("data_end")
    )
    tx, events = merge_live_events(nodes, tx, events, raw.get("live_events"), de.get("data_end"))
    demand, customer, report, metrics = nodes.clean_transactions(
        tx, users, sup, de["cleaning"], split
    )
    users_c, events_c, email_c, camp_c = nodes.filter_sources(
        users, events, email, camp, info, resp, sup
    )
    interactions = nodes.interaction_lines(customer)
    train, test, fit, val, split_metrics = nodes.split_interactions(interactions, split)
    snapshots = nodes.customer_feature_snapshots(
        customer, users_c, events_c, email_c, camp_c, split
    )
    return {
        "report": report,
        "metrics": metrics | split_metrics,
        "demand_lines": demand,
        "customer_lines": customer,
        "users_clean": users_c,
        "events_clean": events_c,
        "email_clean": email_c,
        "campaigns_clean": camp_c,
        "interactions": interactions,
        "interactions_train": train,
        "interactions_test": test,
        "interactions_fit": fit,
        "interactions_val": val,
        "user_item_train": nodes.user_item_matrix(train),
        "item_catalog": nodes.build_item_catalog(demand, items, de["catalog"]),
        "item_catalog_train": nodes.build_item_catalog_train(demand, items, de["catalog"], split),
        "split_bounds": nodes.split_bounds(interactions, split),
        "daily_demand": nodes.daily_demand(demand),
        **dict(
            zip(
                ("customer_features_val", "customer_features_train", "customer_features_serving"),
                snapshots,
                strict=True,
            )
        ),
    }


def merge_live_events(nodes: Any, *args: Any) -> tuple[Any, Any]:
    """The engine's merge of archived live events (the pandas one is not in its nodes module)."""
    if nodes is pandas_nodes:
        return live_events.merge_live_events(*args)
    return table_live_events.merge_live_events(*args)


def written(outputs: dict[str, Any], tmp: Path) -> dict[str, pd.DataFrame]:
    """The Ibis outputs as the pipeline writes them (row order, TableDataset) and reads them."""
    order = {dataset: fn for _, dataset, fn in WRITTEN}
    out = {}
    for name in OUTPUTS:
        data = outputs[name]
        if name in order:
            data = order[name](data)
        ds = TableDataset(str(tmp / f"{name}.parquet"))
        ds.save(data)
        out[name] = ds.load()
    return out


def _key(col: pd.Series) -> pd.Series:
    """A column as comparable values: instants in nanoseconds, numbers (whatever their
    dtype) to 12 significant digits (a sum of the same values in another order may differ
    in its last bit), anything else as text; missing values alike in every dtype."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return pd.Series(col.astype("datetime64[ns]").to_numpy().view("int64"))
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        x = col.astype("float64").to_numpy(copy=True)
        if not np.isnan(x).all():
            ok = np.isfinite(x) & (x != 0)
            scale = 10.0 ** (11 - np.floor(np.log10(np.abs(x[ok]))))
            x[ok] = np.round(x[ok] * scale) / scale
            return pd.Series(x)
    text = col.astype(object)
    return pd.Series(text.where(text.notna(), "").astype(str).to_numpy())


def fingerprint(frame: pd.DataFrame) -> tuple[int, list[str], str]:
    """Row count, columns and a checksum of the content in row order."""
    keys = pd.DataFrame({i: _key(frame[c]) for i, c in enumerate(frame.columns)})
    rows = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    digest = hashlib.sha256(rows.tobytes()).hexdigest()
    return len(frame), [str(c) for c in frame.columns], digest


@pytest.fixture(scope="module", params=CASES, ids=lambda case: "-".join(case))
def both(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    world, engine = request.param
    raw, de, split = WORLDS[world]()
    as_pandas = {k: v if isinstance(v, pd.DataFrame) else v.to_pandas() for k, v in raw.items()}
    expected = run(pandas_nodes, {k: v.copy() for k, v in as_pandas.items()}, de, split)
    if engine == "pyspark":  # Spark gets pandas frames (two worlds' lines are DuckDB tables)
        backend.use(ibis.pyspark.connect(request.getfixturevalue("spark")))
        raw = as_pandas
    try:
        got = run(table_nodes, raw, de, split)
        got |= written(got, tmp_path_factory.mktemp(world))
    finally:
        backend.use(None)
    for name in NON_EMPTY.get(world, ()):
        assert len(expected[name]) > 0, name
    if world == "synthetic_world":  # live purchases became lines; data_end dropped rows
        assert expected["demand_lines"]["order_id"].str.startswith("live:").any()
        end = pd.Timestamp(de["data_end"])
        for source, table in SOURCE_TABLE.items():
            col = pandas_nodes.EVENT_TIME[source]
            assert expected[table][col].max() <= end < as_pandas[source][col].max(), table
    yield world, expected, got


def test_cleaning_report_and_metrics_are_identical(both: tuple) -> None:
    _, expected, got = both
    pd.testing.assert_frame_equal(got["report"], expected["report"])
    assert got["metrics"] == expected["metrics"]
    assert got["split_bounds"] == expected["split_bounds"]


@pytest.mark.parametrize("table", OUTPUTS)
def test_tables_have_the_same_rows_and_checksum(both: tuple, table: str) -> None:
    world, expected, got = both
    if expected[table].empty and got[table].empty:
        return  # an absent source: nothing to compare (NON_EMPTY says where it must exist)
    assert fingerprint(got[table]) == fingerprint(expected[table]), (world, table)


def test_fingerprint_tells_content_and_order_apart_but_not_dtype() -> None:
    """The checksum the suite relies on: the same values in other dtypes (int/float,
    None/NaN, micro/nanoseconds, a last-bit float sum) agree; a changed cell or row
    order does not."""
    a = pd.DataFrame(
        {
            "u": ["a", None, "c"],
            "n": [1, 2, 3],
            "x": [0.1 + 0.2, np.nan, 5.0],
            "t": pd.to_datetime(
                ["2020-01-01", None, "2021-01-01 10:00:00.000001"], format="ISO8601"
            ),
        }
    )
    b = a.assign(
        u=["a", np.nan, "c"], n=[1.0, 2.0, 3.0], x=[0.3, np.nan, 5.0], t=a["t"].dt.as_unit("us")
    )
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(b.assign(x=[0.3, np.nan, 5.0001]))
    assert fingerprint(a) != fingerprint(b.assign(u=["a", None, "b"]))
    assert fingerprint(a) != fingerprint(a.iloc[[1, 0, 2]].reset_index(drop=True))
    assert fingerprint(a) != fingerprint(a.assign(t=a["t"] + pd.Timedelta("1us")))


def test_pandas_reference_pipeline_runs_the_pandas_nodes() -> None:
    """`--pipeline data_engineering_pandas` (built from the Ibis pipeline's graph) runs the
    pandas nodes in order: its outputs are the ones the suite expects."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    from tailor.pipelines.data_engineering_pandas.pipeline import create_pipeline

    raw, de, split = worlds.synthetic_world(n_users=40)
    data = {worlds.CATALOG_NAME[t]: raw[t] for t in worlds.TABLES}
    data["raw_live_events"] = raw["live_events"]
    data |= {f"params:data_engineering.{k}": de.get(k) for k in ("sources", "data_end")}
    data |= {f"params:data_engineering.{k}": de[k] for k in ("cleaning", "catalog")}
    data["params:split"] = split
    catalog = DataCatalog(datasets={k: MemoryDataset(v) for k, v in data.items()})
    outputs = SequentialRunner().run(create_pipeline(), catalog)  # free outputs' datasets
    got = {name: dataset.load() for name, dataset in outputs.items()}
    expected = run(pandas_nodes, {k: v.copy() for k, v in raw.items()}, de, split)
    pd.testing.assert_frame_equal(got["cleaning_report"], expected["report"])
    for table in ("item_catalog", "customer_features_train", "interactions_test", "daily_demand"):
        assert fingerprint(got[table]) == fingerprint(expected[table]), table
