"""Live events become the next training run's data, end to end, through real processes.

`bentoml serve` with the event log on (TAILOR_STREAM=1, a real redis-server), the consumer
(`python -m tailor.serving.consumer`) applying events to live profiles, the archive
(`python -m tailor.serving.archive --once`) writing Parquet segments, and `kedro run
--pipeline data_engineering` in a fresh project reading them as `raw_live_events`: one
user's live purchases are in the new interactions; another user, whose purchases were
archived before they asked to be forgotten, is in no table of that run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests

from tests.conftest import make_project_copy, run_kedro
from tests.serving.conftest import API_KEY, SYNTHETIC, Server, kill_tree, run_server

pytestmark = pytest.mark.e2e
LIVE = "data/synthetic/01_raw/live"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def stats(srv: Server) -> dict:
    return srv.admin("/stats")


def test_live_purchases_reach_the_next_training_run_and_forgotten_users_do_not(
    serving_project: Path,
    server_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    project = make_project_copy(tmp_path / "project")
    history = pd.read_parquet(serving_project / "data/synthetic/03_primary/interactions.parquet")
    counts = history.groupby("user_id")["item_id"].nunique().sort_values()
    buyer, forgotten = (str(u) for u in counts[counts >= 3].index[:2])
    sold = history.groupby("item_id")["user_id"].nunique().sort_values(ascending=False)
    had = set(history.loc[history["user_id"] == buyer, "item_id"])
    new_items = [i for i in sold.index.astype(str) if i not in had][:3]
    # inside the training window, so the purchases are interactions the next model trains on
    when = (history["ts"].max() - pd.Timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")

    env = server_env("redis", tmp_path, TAILOR_STREAM="1")
    env["TAILOR_SUPPRESSION_LIST"] = str(project / "data/01_raw/synthetic/suppression_list.csv")
    env["TAILOR_ARCHIVE_DIR"] = str(project / LIVE)
    log = open(tmp_path / "consumer.log", "w")  # noqa: SIM115 - closed below
    consumer = subprocess.Popen(
        [sys.executable, "-m", "tailor.serving.consumer", "--name", "e2e"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with run_server(env, tmp_path) as srv:
            # real time: a new visitor's view is in their live profile within moments
            visitor = f"visitor-{time.time_ns()}"
            srv.ok("/events", {"user_id": visitor, "event_type": "view", "item_id": new_items[0]})
            wait_until(
                lambda: srv.ok("/recommend", {"user_id": visitor, "k": 3})["strategy"] == "content",
                60,
                "the consumer to apply the view",
            )
            # feedback goes through the log too: counted once, replay refused at the append
            shown = srv.ok("/recommend", {"user_id": buyer, "k": 3})
            before = srv.row(shown["segment"], shown["strategy"])["impressions"]
            fb = {"user_id": buyer, "request_id": shown["request_id"], "event": "impression"}
            assert srv.ok("/feedback", fb)["accepted"] is True
            assert srv.ok("/feedback", fb)["accepted"] is False
            wait_until(
                lambda: srv.row(shown["segment"], shown["strategy"])["impressions"] == before + 1,
                60,
                "the consumer to count the impression",
            )
            for user in (buyer, forgotten):
                for item in new_items:
                    body = {"user_id": user, "event_type": "purchase", "item_id": item, "ts": when}
                    assert srv.ok("/events", body)["stored"] is True
            wait_until(
                lambda: (
                    stats(srv)["stream"]["groups"]["profiles"]["lag"] == 0
                    and stats(srv)["stream"]["groups"]["profiles"]["pending"] == 0
                ),
                60,
                "the profiles group to catch up",
            )
            live = srv.ok("/recommend", {"user_id": buyer, "k": 50, "strategy": "popularity"})
            assert not set(new_items) & {it["item_id"] for it in live["items"]}  # bought: excluded
            assert stats(srv)["stream"]["groups"]["archive"]["lag"] == 8
            page = requests.get(
                f"{srv.url}/dashboard", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
            ).text
            assert '<td data-group="archive" data-metric="lag">8</td>' in page
            archive = subprocess.run(
                [sys.executable, "-m", "tailor.serving.archive", "--once"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert archive.returncode == 0, archive.stderr
            assert stats(srv)["stream"]["groups"]["archive"]["lag"] == 0
            segments = pd.read_parquet(project / LIVE / "events")
            assert (segments["user_id"] == forgotten).sum() == 3  # archived before the forget
            forget = requests.post(
                f"{srv.url}/forget",
                json={"user_id": forgotten},
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=30,
            )
            assert forget.status_code == 200, forget.text
    finally:
        kill_tree([psutil.Process(consumer.pid)], signal.SIGTERM)
        log.close()

    run_kedro(project, *SYNTHETIC[:2], "--pipeline", "data_engineering", *SYNTHETIC[2:])
    data = project / "data/synthetic"
    interactions = pd.read_parquet(data / "03_primary/interactions.parquet")
    mine = interactions[interactions["user_id"] == buyer]
    live_lines = mine[mine["order_id"].str.startswith("live:")]
    assert sorted(live_lines["item_id"]) == sorted(new_items)
    train = pd.read_parquet(data / "05_model_input/interactions_train.parquet")
    assert set(new_items) <= set(train.loc[train["user_id"] == buyer, "item_id"])
    events = pd.read_parquet(data / "02_intermediate/events_clean.parquet")
    assert (events["session_id"] == f"live:{buyer}").sum() == 3  # through the events contract
    for table in (interactions, train, events):
        assert forgotten not in set(table["user_id"])  # archived, then forgotten: gone
