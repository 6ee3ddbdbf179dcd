"""Two service processes (replicas) on one real redis-server, as behind a load balancer.

Each replica has its own working directory, SQLite path and suppression-list file, so
whatever one sees of the other came through Redis. Everything is observed through HTTP
only (what a client behind the balancer sees), whatever the store does underneath.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.serving.conftest import Server, one_segment, run_server, simulate_clicks

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def replicas(
    server_env: Callable[..., dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    a_dir, b_dir = tmp_path_factory.mktemp("replica_a"), tmp_path_factory.mktemp("replica_b")
    a_env = server_env("redis", a_dir)
    # the same Redis namespace; no shared file, no shared request secret in the environment
    b_env = server_env("redis", b_dir, TAILOR_REDIS_PREFIX=a_env["TAILOR_REDIS_PREFIX"])
    assert "TAILOR_REQUEST_SECRET" not in a_env and "TAILOR_REQUEST_SECRET" not in b_env
    with run_server(a_env, a_dir) as a, run_server(b_env, b_dir) as b:
        yield a, b


@pytest.fixture(scope="module")
def known_users(serving_project: Path) -> list[str]:
    history = pd.read_parquet(serving_project / "data/synthetic/03_primary/interactions.parquet")
    counts = history.groupby("user_id")["item_id"].nunique()
    return counts[counts >= 3].index.astype(str).tolist()


def ids(answer: dict) -> list[str]:
    return [it["item_id"] for it in answer["items"]]


def eventually(check: Callable[[], bool], within_s: float = 10) -> bool:
    """True once ``check`` holds (a store may apply writes asynchronously); not a timing
    assertion: the bound only keeps a broken replica from hanging the suite."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_live_events_posted_to_one_replica_shape_the_others_answers(
    replicas: tuple[Server, Server], known_users: list[str]
) -> None:
    a, b = replicas
    # a new visitor's views on A: B answers with their content neighbours
    user = f"rep-{uuid.uuid4().hex[:10]}"
    popular = b.ok("/recommend", {"user_id": user, "k": 10})
    assert popular["strategy"] == "popularity"
    seed = ids(popular)[-1]
    similar = set(ids(b.ok("/similar_items", {"item_id": seed, "k": 20})))
    for _ in range(2):
        assert a.ok("/events", {"user_id": user, "event_type": "view", "item_id": seed})["stored"]

    def content_on_b() -> bool:
        out = b.ok("/recommend", {"user_id": user, "k": 10})
        return out["strategy"] == "content" and len(set(ids(out)) & similar) >= 5

    assert eventually(content_on_b)
    # a known user's purchase on A leaves B's list at once
    buyer = known_users[40]
    bought = ids(b.ok("/recommend", {"user_id": buyer, "k": 10, "strategy": "model"}))[0]
    a.ok("/events", {"user_id": buyer, "event_type": "purchase", "item_id": bought})
    assert eventually(
        lambda: (
            bought not in ids(b.ok("/recommend", {"user_id": buyer, "k": 10, "strategy": "model"}))
        )
    )


def test_request_ids_feedback_and_counts_are_shared(
    replicas: tuple[Server, Server], known_users: list[str]
) -> None:
    a, b = replicas
    user = known_users[41]
    rec = b.ok("/recommend", {"user_id": user, "k": 5})  # issued by B
    strat = rec["strategy"]
    before_a, before_b = a.row(rec["segment"], strat), b.row(rec["segment"], strat)
    assert before_a == before_b  # one set of counters
    click = {"user_id": user, "request_id": rec["request_id"], "event": "click"}
    assert a.ok("/feedback", click)["accepted"] is True  # verified by A: one shared secret
    assert b.ok("/feedback", click)["accepted"] is False  # a replay, whichever replica
    after_b = b.row(rec["segment"], strat)
    assert after_b["clicks"] == before_b["clicks"] + 1, after_b
    assert a.row(rec["segment"], strat) == after_b


def test_the_bandit_learns_from_clicks_on_either_replica(
    replicas: tuple[Server, Server], known_users: list[str]
) -> None:
    """Answers from B, feedback to A (and the other way round): B's bandit moves to the
    strategy users click (content 40 %, others 3 %, fixed seed)."""
    a, b = replicas
    users = one_segment(b, known_users[60:260])
    # even steps answered by B and credited to A, odd ones the other way round
    chosen = simulate_clicks(users, lambda i: (b, a)[i % 2], lambda i: (a, b)[i % 2], seed=1)
    early = chosen[:60].count("content") / 60
    late_on_b = chosen[-60::2].count("content") / 30  # B's answers only
    assert late_on_b > early and late_on_b >= 0.7, (early, late_on_b)


def test_forget_on_one_replica_holds_on_the_other(
    replicas: tuple[Server, Server], known_users: list[str]
) -> None:
    a, b = replicas
    user = known_users[42]
    rec = b.ok("/recommend", {"user_id": user, "k": 5})
    assert rec["segment"] != "anonymous"
    b.ok("/events", {"user_id": user, "event_type": "view", "item_id": ids(rec)[0]})
    assert a.admin("/forget", {"user_id": user})["suppressed"] is True
    # B's own suppression-list file never heard of it: the store carried the forget
    b_list = b.workdir / "suppression_list.csv"
    assert not b_list.exists() or user not in b_list.read_text()
    after = b.ok("/recommend", {"user_id": user, "k": 5})
    assert after["segment"] == "anonymous" and after["strategy"] == "popularity"
    event = {"user_id": user, "event_type": "view", "item_id": ids(rec)[1]}
    assert b.ok("/events", event)["stored"] is False
    click = {"user_id": user, "request_id": rec["request_id"], "event": "click"}
    assert b.ok("/feedback", click)["accepted"] is False
