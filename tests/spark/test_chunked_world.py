"""Chunked synthetic worlds (tailor.synthetic.write_chunked): the scale bench's input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tailor.synthetic import generate, write_chunked

CONFIG = {"seed": 13, "n_users": 90}


def read(root: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(root / f"{table}.parquet")


def test_one_chunk_is_exactly_the_generators_world(tmp_path: Path) -> None:
    rows = write_chunked(CONFIG, tmp_path / "w", users_per_chunk=1_000)
    world = generate(CONFIG)
    for table, frame in world.items():
        got = read(tmp_path / "w", table)
        pd.testing.assert_frame_equal(got, frame.reset_index(drop=True), check_dtype=False)
        assert rows[table] == len(frame)


def test_chunks_are_one_world_with_unique_ids(tmp_path: Path) -> None:
    rows = write_chunked(CONFIG, tmp_path / "w", users_per_chunk=40)  # chunks of 40, 40, 10
    root = tmp_path / "w"
    assert len(list((root / "events.parquet").glob("part-*.parquet"))) == 3
    assert len(list((root / "items.parquet").glob("part-*.parquet"))) == 1
    users, tx, events = read(root, "users"), read(root, "transactions"), read(root, "events")
    assert len(users) == CONFIG["n_users"] == users["user_id"].nunique()
    assert rows["events"] == len(events) and rows["transactions"] == len(tx)
    # every id class is disjoint between chunks
    parts = sorted((root / "transactions.parquet").glob("part-*.parquet"))
    orders = [set(pd.read_parquet(p)["order_id"].str.lstrip("C")) for p in parts]
    assert not (orders[0] & orders[1]) and not (orders[1] & orders[2])
    parts = sorted((root / "events.parquet").glob("part-*.parquet"))
    sessions = [set(pd.read_parquet(p)["session_id"]) for p in parts]
    assert not (sessions[0] & sessions[1]) and not (sessions[1] & sessions[2])
    users_by_part = [set(pd.read_parquet(p)["user_id"]) for p in parts]
    assert not (users_by_part[0] & users_by_part[1])
    # items are shared: one catalog, and every chunk buys from it
    items = set(read(root, "items")["item_id"])
    assert set(tx["item_id"]) <= items and set(events["item_id"].dropna()) <= items
    # chunks are their own draws, not copies of the first with new ids
    first, second = (pd.read_parquet(p) for p in parts[:2])
    assert len(first) != len(second) or not (first["ts"].values == second["ts"].values).all()
    # the same size of world as the one-shot generator (same per-user rates)
    whole = generate(CONFIG)
    assert abs(len(events) / len(whole["events"]) - 1) < 0.25
    manifest = json.loads((root / "config.json").read_text())
    assert manifest["rows"] == rows and (root / "_SUCCESS").exists()


def test_spark_reads_the_parts_as_the_same_table(tmp_path: Path, spark: Any) -> None:
    write_chunked(CONFIG, tmp_path / "w", users_per_chunk=40)
    path = tmp_path / "w" / "transactions.parquet"
    got = spark.read.parquet(str(path)).select("order_id", "item_id", "quantity").toPandas()
    want = pd.read_parquet(path, columns=["order_id", "item_id", "quantity"])
    key = ["order_id", "item_id", "quantity"]
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True)
    )


def test_bad_chunk_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="users_per_chunk"):
        write_chunked(CONFIG, tmp_path / "w", users_per_chunk=0)
