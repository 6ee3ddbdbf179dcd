"""Forgotten ids are text end to end: the service's list file -> the catalog -> cleaning."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from tailor.pipelines.data_engineering.nodes import clean_transactions, validate_raw_tables
from tailor.pipelines.serving.nodes import forgotten, without
from tailor.serving.suppression import SuppressionList, read
from tests.conftest import ROOT

TRICKY = ["NA", "None", "00123", "Zoë"]
LOOKALIKES = ["123", "nan", "Zoe", "N/A"]


def test_list_round_trips_tricky_ids_and_is_seen_by_other_readers(tmp_path: Path) -> None:
    path = tmp_path / "suppression_list.csv"
    writer, reader = SuppressionList(path), SuppressionList(path)
    assert "NA" not in reader
    threads = [threading.Thread(target=writer.add, args=(uid,)) for uid in TRICKY]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.add("NA")  # once only
    assert read(path) == set(TRICKY)
    assert all(uid in reader for uid in TRICKY)  # another worker sees the change
    assert not any(uid in reader for uid in LOOKALIKES)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "user_id,forgotten_at" and len(lines) == 1 + len(TRICKY)


def test_next_data_engineering_run_excludes_exactly_the_forgotten_ids(tmp_path: Path) -> None:
    path = tmp_path / "suppression_list.csv"
    forget = SuppressionList(path)
    for uid in TRICKY:
        forget.add(uid)
    # the suppression_list dataset exactly as conf/base declares it, on this file
    loader = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="base")
    entry = {**loader["catalog"]["suppression_list"], "filepath": str(path)}
    suppression = DataCatalog.from_config({"suppression_list": entry}).load("suppression_list")
    assert sorted(suppression["user_id"]) == sorted(TRICKY)

    users = TRICKY + LOOKALIKES
    tx = pd.DataFrame(
        {
            "order_id": [str(n) for n in range(len(users))],
            "user_id": users,
            "item_id": ["A"] * len(users),
            "quantity": [1.0] * len(users),
            "unit_price": [2.0] * len(users),
            "ts": pd.to_datetime(["2024-01-01"] * len(users)),
            "country": ["UK"] * len(users),
        }
    )
    params = loader["parameters"]["data_engineering"]
    no_maps = {name: {"columns": {}} for name in params["sources"]}
    empty = pd.DataFrame()
    validated = validate_raw_tables(
        tx, empty, empty, empty, empty, suppression, empty, empty, empty, no_maps
    )
    tx_ok, users_ok, suppression_ok = validated[0], validated[1], validated[5]
    demand, customer, report, _ = clean_transactions(
        tx_ok, users_ok, suppression_ok, params["cleaning"]
    )
    assert sorted(customer["user_id"]) == sorted(LOOKALIKES)
    assert sorted(demand["user_id"]) == sorted(LOOKALIKES)
    steps = dict(zip(report["step"], report["rows"], strict=True))
    assert steps["suppressed_users"] == len(TRICKY)


def test_packaging_drops_forgotten_users() -> None:
    gone = forgotten(pd.DataFrame({"user_id": TRICKY}))
    frame = pd.DataFrame({"user_id": TRICKY + LOOKALIKES, "x": range(8)})
    assert without(frame, gone)["user_id"].tolist() == LOOKALIKES
    assert without(None, gone) is None
    assert forgotten(pd.DataFrame()) == set()
