"""The Tailor service over real HTTP, once per store backend (SQLite, Redis)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tailor.serving.store.redis_store import RedisStore
from tailor.serving.store.sqlite_store import SQLiteStore
from tests.serving.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def history(serving_project: Path) -> pd.DataFrame:
    return pd.read_parquet(serving_project / "data/synthetic/03_primary/interactions.parquet")


@pytest.fixture(scope="module")
def known_users(history: pd.DataFrame) -> list[str]:
    counts = history.groupby("user_id")["item_id"].nunique()
    return counts[counts >= 3].index.astype(str).tolist()


def fresh_user() -> str:
    return f"new-{uuid.uuid4().hex[:12]}"


def ids(answer: dict) -> list[str]:
    return [it["item_id"] for it in answer["items"]]


def test_recommend_known_user_excludes_past_purchases(
    server: Server, known_users: list[str], history: pd.DataFrame
) -> None:
    for user in known_users[:5]:
        out = server.ok("/recommend", {"user_id": user, "k": 10, "strategy": "model"})
        assert out["strategy"] == "model" and out["user_id"] == user
        assert len(ids(out)) == 10 == len(set(ids(out)))
        bought = set(history.loc[history["user_id"] == user, "item_id"].astype(str))
        assert not bought & set(ids(out))
        assert all(it["title"] and it["reason"] for it in out["items"])
        scores = [it["score"] for it in out["items"]]
        assert scores == sorted(scores, reverse=True)


def test_cold_start_unknown_user_is_never_an_error(server: Server) -> None:
    out = server.ok("/recommend", {"user_id": fresh_user(), "k": 7})
    assert out["strategy"] == "popularity" and out["segment"] == "new"
    assert len(ids(out)) == 7
    country = server.ok(
        "/recommend", {"user_id": fresh_user(), "k": 7, "context": {"country": "Germany"}}
    )
    assert len(ids(country)) == 7


def test_purchase_event_removes_item_right_away(server: Server, known_users: list[str]) -> None:
    user = known_users[10]
    before = server.ok("/recommend", {"user_id": user, "k": 10, "strategy": "model"})
    bought = ids(before)[0]
    ack = server.ok("/events", {"user_id": user, "event_type": "purchase", "item_id": bought})
    assert ack == {"stored": True, "known_item": True, "reason": "stored"}
    after = server.ok("/recommend", {"user_id": user, "k": 10, "strategy": "model"})
    assert bought not in ids(after)


def test_views_pull_similar_items_up(server: Server, known_users: list[str]) -> None:
    user = known_users[11]
    before = ids(server.ok("/recommend", {"user_id": user, "k": 10, "strategy": "model"}))
    # an item far down the model's list: its neighbours are not in the top 10 yet
    seed = next(
        it["item_id"]
        for it in server.ok("/recommend", {"user_id": user, "k": 100, "strategy": "model"})[
            "items"
        ][60:]
    )
    similar = ids(server.ok("/similar_items", {"item_id": seed, "k": 10}))
    assert similar
    server.ok("/events", {"user_id": user, "event_type": "view", "item_id": seed})
    after = server.ok("/recommend", {"user_id": user, "k": 10, "strategy": "model"})
    pulled = set(ids(after)) & set(similar)
    assert len(pulled) > len(set(before) & set(similar))
    assert any("you just viewed" in it["reason"] for it in after["items"])


def test_new_users_first_views_give_non_popularity_answer(server: Server) -> None:
    user = fresh_user()
    popular = server.ok("/recommend", {"user_id": user, "k": 10})
    assert popular["strategy"] == "popularity"
    seed = ids(popular)[-1]
    similar = set(ids(server.ok("/similar_items", {"item_id": seed, "k": 20})))
    for _ in range(2):
        server.ok("/events", {"user_id": user, "event_type": "view", "item_id": seed})
    out = server.ok("/recommend", {"user_id": user, "k": 10})
    assert out["strategy"] == "content"
    assert ids(out) != ids(popular)
    assert len(set(ids(out)) & similar) >= 5


def test_similar_items(server: Server, history: pd.DataFrame) -> None:
    item = str(history["item_id"].iloc[0])
    out = server.ok("/similar_items", {"item_id": item, "k": 5})
    assert out["known"] and len(out["items"]) == 5 and item not in ids(out)
    assert server.ok("/similar_items", {"item_id": "NOPE", "k": 5}) == {
        "item_id": "NOPE",
        "known": False,
        "items": [],
    }


def test_segment_and_next_purchase(
    server: Server, known_users: list[str], serving_project: Path
) -> None:
    user = known_users[0]
    seg = server.ok("/segment", {"user_id": user})
    assert seg["known"] and seg["segment"]
    segments = serving_project / "data/synthetic/07_model_output/customer_segments_serving.parquet"
    if segments.exists():
        table = pd.read_parquet(segments).astype({"user_id": str}).set_index("user_id")
        assert seg["rule_segment"] == table.loc[user, "rule_segment"]
        assert seg["cluster_id"] == int(table.loc[user, "cluster_id"])
    assert server.ok("/segment", {"user_id": fresh_user()})["segment"] == "new"
    nxt = server.ok("/next_purchase", {"user_id": user})
    predictions = (
        serving_project / "data/synthetic/07_model_output/next_purchase_predictions.parquet"
    )
    if predictions.exists():
        table = pd.read_parquet(predictions).astype({"user_id": str}).set_index("user_id")
        if user in table.index:
            assert nxt["known"]
            assert nxt["expected_days"] == pytest.approx(float(table.loc[user, "expected_days"]))
    else:
        assert nxt["known"] is False and nxt["source"] == "missing"
    assert server.ok("/next_purchase", {"user_id": fresh_user()})["known"] is False


def test_unknown_items_are_accepted_and_counted(server: Server) -> None:
    before = requests.get(f"{server.url}/stats", timeout=30).json()["counters"]
    ack = server.ok("/events", {"user_id": fresh_user(), "event_type": "view", "item_id": "ZZZ"})
    assert ack["stored"] and ack["known_item"] is False
    after = requests.get(f"{server.url}/stats", timeout=30).json()["counters"]
    assert after.get("unknown_item_events", 0) == before.get("unknown_item_events", 0) + 1


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/recommend", {"user_id": "u1", "k": 0}, "k"),
        ("/recommend", {"user_id": "u1", "k": 101}, "k"),
        ("/recommend", {"user_id": "u1", "k": "ten"}, "k"),
        ("/recommend", {"user_id": "u1", "colour": "red"}, "colour"),
        ("/recommend", {"k": 3}, "user_id"),
        ("/recommend", {"user_id": "u1", "context": {"channel": "fax"}}, "context.channel"),
        ("/events", {"user_id": "u1", "event_type": "teleport", "item_id": "x"}, "event_type"),
        ("/events", {"user_id": "u1", "event_type": "view"}, "item_id"),
        ("/events", {"user_id": "u1", "event_type": "view", "item_id": "x", "ts": "soon"}, "ts"),
        ("/feedback", {"user_id": "u1", "request_id": "forged", "event": "click"}, "request_id"),
        ("/feedback", {"user_id": "u1", "request_id": "r1", "event": "like"}, "event"),
        ("/similar_items", {"item_id": "", "k": 3}, "item_id"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    server: Server, route: str, body: dict, field: str
) -> None:
    resp = server.post(route, body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]


def test_oversize_and_malformed_bodies(server: Server) -> None:
    big = server.post("/recommend", {"user_id": "u1", "pad": "x" * 100_000})
    assert big.status_code == 413
    raw = requests.post(
        f"{server.url}/recommend",
        data=b'{"user_id": ',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert raw.status_code == 400


def test_feedback_updates_stats(server: Server, known_users: list[str]) -> None:
    user = known_users[20]
    rec = server.ok("/recommend", {"user_id": user, "k": 5, "strategy": "content"})
    rid = rec["request_id"]
    for event in ("impression", "click", "conversion"):
        ack = server.ok("/feedback", {"user_id": user, "request_id": rid, "event": event})
        assert ack["accepted"] and ack["strategy"] == "content"
    other = server.post(
        "/feedback", {"user_id": known_users[21], "request_id": rid, "event": "click"}
    )
    assert other.status_code == 400  # a request id is bound to its user
    t0 = pd.Timestamp.now(tz="UTC")
    item = ids(rec)[0]
    for offset_s, duration in ((0, 42.0), (60, None), (90, None)):
        server.ok(
            "/events",
            {
                "user_id": user,
                "event_type": "view",
                "item_id": item,
                "ts": (t0 + pd.Timedelta(seconds=offset_s)).isoformat(),
                "session_id": "s1",
                "duration_s": duration,
                "request_id": rid,
            },
        )
    server.ok(  # back three days later: a repeat visit
        "/events",
        {
            "user_id": user,
            "event_type": "view",
            "item_id": item,
            "ts": (t0 + pd.Timedelta(days=3)).isoformat(),
            "session_id": "s2",
        },
    )
    stats = requests.get(f"{server.url}/stats", timeout=30).json()
    row = next(
        r
        for r in stats["by_strategy_segment"]
        if r["strategy"] == "content" and r["segment"] == rec["segment"]
    )
    assert row["impressions"] >= 1 and row["clicks"] >= 1 and row["conversions"] >= 1
    assert 0 < row["ctr"] <= 1
    # dwell: 42 s reported, then the 30 s gap to the next event in the session
    assert row["views"] >= 2 and row["dwell_s_mean"] is not None
    assert row["repeat_visit_rate"] is not None and row["repeat_visit_rate"] > 0
    assert stats["by_strategy"]["content"]["impressions"] >= 1


def test_bandit_shifts_traffic_to_the_strategy_that_gets_clicks(
    server: Server, known_users: list[str]
) -> None:
    """Simulated users click 'content' answers 40% of the time and others 3% (fixed seed)."""
    rng = np.random.default_rng(0)
    by_segment: dict[str, list[str]] = {}
    for user in known_users[30:230]:
        by_segment.setdefault(server.ok("/segment", {"user_id": user})["segment"], []).append(user)
    users = max(by_segment.values(), key=len)[:60]  # one segment: one bandit
    chosen = []
    for step in range(240):
        user = users[step % len(users)]
        rec = server.ok("/recommend", {"user_id": user, "k": 5})
        chosen.append(rec["strategy"])
        rid = rec["request_id"]
        server.ok("/feedback", {"user_id": user, "request_id": rid, "event": "impression"})
        if rng.random() < (0.4 if rec["strategy"] == "content" else 0.03):
            server.ok("/feedback", {"user_id": user, "request_id": rid, "event": "click"})
    early = chosen[:60].count("content") / 60
    late = chosen[-60:].count("content") / 60
    assert late > early and late >= 0.7, (early, late)


def test_forget_leaves_nothing_and_depersonalizes(server: Server, known_users: list[str]) -> None:
    user = known_users[25]
    rec = server.ok("/recommend", {"user_id": user, "k": 5})
    server.ok("/events", {"user_id": user, "event_type": "view", "item_id": ids(rec)[0]})
    server.ok("/feedback", {"user_id": user, "request_id": rec["request_id"], "event": "click"})
    out = server.ok("/forget", {"user_id": user})
    assert out["suppressed"] and out["deleted_keys"] >= 2
    assert user not in dump_store(server)
    listed = pd.read_csv(server.workdir / "suppression_list.csv", dtype=str)  # type: ignore[attr-defined]
    assert user in set(listed["user_id"])
    after = server.ok("/recommend", {"user_id": user, "k": 5})
    assert after["strategy"] == "popularity" and after["segment"] == "anonymous"
    assert (
        server.ok("/events", {"user_id": user, "event_type": "view", "item_id": "x"})["stored"]
        is False
    )
    assert server.ok("/segment", {"user_id": user})["known"] is False
    assert user not in dump_store(server)


def test_users_without_consent_get_non_personalized_answers(
    server: Server, serving_project: Path, bentoml_home: Path
) -> None:
    import os

    os.environ["BENTOML_HOME"] = str(bentoml_home)
    profiles = sorted((bentoml_home / "models" / "tailor-profiles").glob("*/users.parquet"))
    users = pd.read_parquet(profiles[-1])
    off = users.loc[~users["consent"], "user_id"].tolist()
    if not off:
        pytest.fail("the synthetic users table has no opted-out user to test with")
    out = server.ok("/recommend", {"user_id": off[0], "k": 5})
    assert out["strategy"] == "popularity" and out["segment"] == "anonymous"


def test_health_and_metrics(server: Server) -> None:
    for path in ("/livez", "/readyz"):
        assert requests.get(f"{server.url}{path}", timeout=30).status_code == 200
    metrics = requests.get(f"{server.url}/metrics", timeout=30)
    assert metrics.status_code == 200 and "request" in metrics.text
    schema = requests.get(f"{server.url}/docs.json", timeout=30).json()
    for route in (
        "/recommend",
        "/similar_items",
        "/segment",
        "/next_purchase",
        "/events",
        "/feedback",
        "/stats",
        "/forget",
    ):
        assert route in schema["paths"]


def test_openapi_fuzz_finds_no_server_error(server: Server) -> None:
    """Schemathesis cases from the service's own OpenAPI schema: no 5xx, server stays up."""
    raw = requests.get(f"{server.url}/docs.json", timeout=30).json()
    operations = [op.ok() for op in schemathesis.openapi.from_dict(raw).get_all_operations()]
    assert {op.path for op in operations} >= {"/recommend", "/events", "/feedback", "/forget"}
    for op in operations:
        fuzz_operation(op, server.url)
    assert server.proc.poll() is None


def fuzz_operation(op: schemathesis.APIOperation, url: str) -> None:
    @given(case=op.as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        resp = case.call(base_url=url, timeout=30)
        assert resp.status_code < 500, (case.path, case.body, resp.status_code, resp.text)

    check()


def test_zz_acknowledged_events_survive_kill_9(server: Server) -> None:
    """Last test of the module: kill -9 the whole server right after the 200s, then read the
    store directly: every acknowledged event is there."""
    user = f"durable-{uuid.uuid4().hex[:8]}"
    items = [f"I{n:05d}" for n in range(25)]
    for item in items:
        server.ok("/events", {"user_id": user, "event_type": "view", "item_id": item})
    server.kill9()  # no shutdown hook, no flush: only what was persisted before each 200
    if server.backend == "redis":  # type: ignore[attr-defined]
        store = RedisStore(server.env["TAILOR_REDIS_URL"], prefix=server.env["TAILOR_REDIS_PREFIX"])
    else:
        store = SQLiteStore(server.env["TAILOR_STORE_PATH"])
    try:
        assert [e.item_id for e in store.recent_events(user, 100)] == items
    finally:
        store.close()


def dump_store(server: Server) -> str:
    """Every byte the backend holds (SQLite file + WAL, or every Redis key and value)."""
    if server.backend == "sqlite":  # type: ignore[attr-defined]
        base = Path(server.env["TAILOR_STORE_PATH"])
        return "".join(p.read_bytes().decode("latin-1") for p in base.parent.glob(base.name + "*"))
    import redis

    r = redis.Redis.from_url(server.env["TAILOR_REDIS_URL"], decode_responses=True)
    out = []
    for key in r.scan_iter(f"{server.env['TAILOR_REDIS_PREFIX']}*"):
        kind = r.type(key)
        value = {
            "list": lambda k: r.lrange(k, 0, -1),
            "set": r.smembers,
            "hash": r.hgetall,
            "string": r.get,
        }[kind](key)
        out.append(f"{key}={value}")
    return "\n".join(out)
