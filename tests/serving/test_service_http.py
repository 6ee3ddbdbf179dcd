"""The Tailor service over real HTTP, once per store backend (SQLite, Redis).

Every test uses users of its own and asserts on differences it caused itself, so the
tests pass in any order; tests that stop a server start their own.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests

from tailor.serving.store import ProfileStore
from tailor.serving.store.redis_store import RedisStore
from tailor.serving.store.sqlite_store import SQLiteStore
from tests.serving.conftest import (
    API_KEY,
    Server,
    kill_tree,
    one_segment,
    run_server,
    simulate_clicks,
    start_redis,
)

pytestmark = pytest.mark.e2e
OUTPUTS = "data/synthetic/07_model_output"


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


def open_store(server: Server) -> ProfileStore:
    """The server's own store, opened directly (what is really persisted)."""
    if server.backend == "redis":
        return RedisStore(server.env["TAILOR_REDIS_URL"], prefix=server.env["TAILOR_REDIS_PREFIX"])
    return SQLiteStore(server.env["TAILOR_STORE_PATH"])


def test_recommend_known_user_serves_past_purchases_only_as_repeats(
    server: Server, known_users: list[str], history: pd.DataFrame
) -> None:
    """The served list mixes buying again and discovering: a past purchase appears only
    with a buy-again reason, every other item is new to the user."""
    for user in known_users[:5]:
        out = server.ok("/recommend", {"user_id": user, "k": 10, "strategy": "model"})
        assert out["strategy"] == "model" and out["user_id"] == user
        assert len(ids(out)) == 10 == len(set(ids(out)))
        bought = set(history.loc[history["user_id"] == user, "item_id"].astype(str))
        again = [it["reason"] for it in out["items"] if it["item_id"] in bought]
        assert all(
            r.startswith(("bought again every ~", "bought before", "due again")) for r in again
        )
        new = [it["reason"] for it in out["items"] if it["item_id"] not in bought]
        assert not any(r.startswith(("bought again", "bought before")) for r in new)
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
    long_list = server.ok("/recommend", {"user_id": user, "k": 100, "strategy": "model"})
    seed = ids(long_list)[60]
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
    segments = pd.read_parquet(serving_project / OUTPUTS / "customer_segments_serving.parquet")
    segments = segments.astype({"user_id": str}).set_index("user_id")
    predictions = pd.read_parquet(serving_project / OUTPUTS / "next_purchase_predictions.parquet")
    predictions = predictions.astype({"user_id": str}).set_index("user_id")
    user = next(u for u in known_users if u in segments.index and u in predictions.index)
    seg = server.ok("/segment", {"user_id": user})
    assert seg["known"] and seg["segment"] == segments.loc[user, "rule_segment"]
    assert seg["rule_segment"] == segments.loc[user, "rule_segment"]
    assert seg["cluster_id"] == int(segments.loc[user, "cluster_id"])
    assert server.ok("/segment", {"user_id": fresh_user()})["segment"] == "new"
    nxt = server.ok("/next_purchase", {"user_id": user})
    assert nxt["known"] and nxt["source"] == "next_purchase_predictions"
    assert nxt["expected_days"] == pytest.approx(float(predictions.loc[user, "expected_days"]))
    unknown = server.ok("/next_purchase", {"user_id": fresh_user()})
    assert unknown["known"] is False and unknown["expected_days"] is None


def test_unknown_items_are_accepted_and_counted(server: Server) -> None:
    before = server.admin("/stats")["counters"].get("unknown_item_events", 0)
    ack = server.ok("/events", {"user_id": fresh_user(), "event_type": "view", "item_id": "ZZZ"})
    assert ack["stored"] and ack["known_item"] is False
    assert server.admin("/stats")["counters"]["unknown_item_events"] == before + 1


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/recommend", {"user_id": "u1", "k": 0}, "k"),
        ("/recommend", {"user_id": "u1", "k": 101}, "k"),
        ("/recommend", {"user_id": "u1", "k": "ten"}, "k"),
        ("/recommend", {"user_id": "u1", "k": True}, "k"),
        ("/recommend", {"user_id": "u1", "colour": "red"}, "colour"),
        ("/recommend", {"k": 3}, "user_id"),
        ("/recommend", {"user_id": " u1"}, "user_id"),
        ("/recommend", {"user_id": "u1", "context": {"channel": "fax"}}, "context.channel"),
        ("/events", {"user_id": "u1", "event_type": "teleport", "item_id": "x"}, "event_type"),
        ("/events", {"user_id": "u1", "event_type": "view"}, "item_id"),
        ("/events", {"user_id": "u1", "event_type": "view", "item_id": "x", "ts": "soon"}, "ts"),
        ("/events", {"user_id": "u1", "event_type": "view", "item_id": "x", "duration_s": False},
         "duration_s"),
        ("/feedback", {"user_id": "u1", "request_id": "forged", "event": "click"}, "request_id"),
        ("/feedback", {"user_id": "u1", "request_id": "r1", "event": "like"}, "event"),
        ("/similar_items", {"item_id": "", "k": 3}, "item_id"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(
    server: Server, route: str, body: dict, field: str
) -> None:
    resp = server.post(route, body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]


@pytest.mark.parametrize("route", ["/recommend", "/events", "/feedback", "/segment", "/forget"])
def test_wrong_or_missing_content_type_is_415(server: Server, route: str) -> None:
    body = b'{"user_id": "0"}'
    auth = {"Authorization": f"Bearer {API_KEY}"}
    for content_type in ("multipart/form-data", "text/plain", None):
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        resp = requests.post(f"{server.url}{route}", data=body, headers=headers, timeout=30)
        assert resp.status_code == 415, (content_type, resp.text)
        assert "content-type" in resp.json()["error"]


def test_oversize_and_malformed_bodies(server: Server) -> None:
    big = server.post("/recommend", {"user_id": "u1", "pad": "x" * 100_000})
    assert big.status_code == 413 and "body" in big.json()["error"]
    for raw in (b'{"user_id": ', b"", b"[1, 2]"):
        resp = requests.post(
            f"{server.url}/recommend",
            data=raw,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=30,
        )
        assert resp.status_code == 400, (raw, resp.text)
        assert isinstance(resp.json()["error"], str)


def test_admin_endpoints_need_the_api_key(server: Server) -> None:
    for route, body in (("/stats", None), ("/forget", {"user_id": "u1"}), ("/dashboard", None)):
        for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 403)):
            if body is None:
                resp = requests.get(f"{server.url}{route}", headers=headers, timeout=30)
            else:
                resp = server.post(route, body, headers=headers)
            assert resp.status_code == status, (route, headers, resp.text)
            assert "authorization" in resp.json()["error"]
    stats = requests.get(f"{server.url}/stats", headers={"Authorization": f"Bearer {API_KEY}"})
    assert stats.status_code == 200
    assert str(server.workdir) not in stats.text and "/tmp" not in stats.text
    assert all(not v.startswith("/") for v in stats.json()["models"].values())
    # public endpoints need no key
    assert server.post("/recommend", {"user_id": fresh_user()}).status_code == 200


def test_feedback_updates_stats_exactly(server: Server, known_users: list[str]) -> None:
    user = known_users[20]
    rec = server.ok("/recommend", {"user_id": user, "k": 5, "strategy": "content"})
    rid, segment = rec["request_id"], rec["segment"]
    before = server.row(segment, "content")
    for event in ("impression", "click", "conversion"):
        ack = server.ok("/feedback", {"user_id": user, "request_id": rid, "event": event})
        assert ack["accepted"] and ack["strategy"] == "content" and ack["segment"] == segment
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
    after = server.row(segment, "content")
    delta = {k: after[k] - before[k] for k in ("impressions", "clicks", "conversions", "views")}
    assert delta == {"impressions": 1, "clicks": 1, "conversions": 1, "views": 2}
    # dwell: 42 s reported, then the 30 s gap to the next event of the session
    assert after["dwell_s_sum"] - before["dwell_s_sum"] == pytest.approx(72.0)
    # the third view's dwell is unknown: the next event starts another session
    assert after["users"] - before["users"] == 1
    assert after["returned_users"] - before["returned_users"] == 1
    assert after["ctr"] == round(after["clicks"] / after["impressions"], 4)
    assert after["dwell_s_mean"] == round(after["dwell_s_sum"] / after["views"], 2)


def test_forged_and_replayed_request_ids_do_not_move_the_bandit(
    server: Server, known_users: list[str]
) -> None:
    user, other = known_users[40], known_users[41]
    rec = server.ok("/recommend", {"user_id": user, "k": 3, "strategy": "popularity"})
    rid, segment = rec["request_id"], rec["segment"]
    head, strategy, seg, sig = rid.split(".")
    before = server.row(segment, "model")
    forged = [
        (user, f"{head}.model.{seg}.{sig}"),  # another strategy, same signature
        (user, f"{head}.model.Invented_Segment.{sig}"),  # an invented segment
        (user, f"{head}.model.{seg}.{'A' * 22}"),  # a made-up signature
        (other, rid),  # someone else's id
    ]
    for uid, fake in forged:
        for event in ("impression", "click"):
            resp = server.post("/feedback", {"user_id": uid, "request_id": fake, "event": event})
            assert resp.status_code == 404 and "request_id" in resp.json()["error"], resp.text
    assert server.row(segment, "model") == before
    # a replay of a real id is acknowledged but counted once
    before = server.row(segment, strategy)
    for _ in range(3):
        server.post("/feedback", {"user_id": user, "request_id": rid, "event": "impression"})
        answer = server.ok("/feedback", {"user_id": user, "request_id": rid, "event": "click"})
    assert answer["accepted"] is False
    after = server.row(segment, strategy)
    assert (after["impressions"] - before["impressions"], after["clicks"] - before["clicks"]) == (
        1,
        1,
    )


def test_bandit_shifts_traffic_to_the_strategy_that_gets_clicks(
    server: Server, known_users: list[str]
) -> None:
    """Simulated users click 'content' answers 40% of the time and others 3% (fixed seed)."""
    users = one_segment(server, known_users[30:230])
    chosen = simulate_clicks(users, lambda _: server, lambda _: server, seed=0)
    early = chosen[:60].count("content") / 60
    late = chosen[-60:].count("content") / 60
    assert late > early and late >= 0.7, (early, late)


def test_forget_leaves_nothing_and_depersonalizes(server: Server, known_users: list[str]) -> None:
    user = known_users[25]
    rec = server.ok("/recommend", {"user_id": user, "k": 5})
    server.ok("/events", {"user_id": user, "event_type": "view", "item_id": ids(rec)[0]})
    server.ok("/feedback", {"user_id": user, "request_id": rec["request_id"], "event": "click"})
    out = server.admin("/forget", {"user_id": user})
    assert out["suppressed"] and out["deleted_keys"] == 2
    assert user not in dump_store(server)
    after = server.ok("/recommend", {"user_id": user, "k": 5})
    assert after["strategy"] == "popularity" and after["segment"] == "anonymous"
    event = {"user_id": user, "event_type": "view", "item_id": "x"}
    assert server.ok("/events", event)["stored"] is False
    assert server.ok("/segment", {"user_id": user})["known"] is False
    assert server.ok("/next_purchase", {"user_id": user})["known"] is False
    assert user not in dump_store(server)


def test_tricky_ids_are_forgotten_exactly(server: Server) -> None:
    tricky = ["NA", "None", "00123", "Zoë"]
    for uid in tricky:
        server.ok("/events", {"user_id": uid, "event_type": "view", "item_id": "x"})
        assert server.admin("/forget", {"user_id": uid})["suppressed"]
    listed = pd.read_csv(server.workdir / "suppression_list.csv", dtype=str, keep_default_na=False)
    assert set(tricky) <= set(listed["user_id"])
    for uid in tricky:
        assert server.ok("/recommend", {"user_id": uid})["segment"] == "anonymous"
    for lookalike in ("123", "Zoe", "nan"):  # other ids stay personalisable
        assert server.ok("/recommend", {"user_id": lookalike})["segment"] == "new"


def test_forget_is_atomic_with_concurrent_events(server: Server) -> None:
    """Events stream in from several threads while /forget runs: once it has answered, no
    event of the user is in the store, and every later event is refused."""
    user, stop = fresh_user(), threading.Event()
    after_forget: list[bool] = []
    forgotten_at: list[float] = []

    def stream() -> None:
        session = requests.Session()
        while not stop.is_set():
            body = {"user_id": user, "event_type": "view", "item_id": "x"}
            sent = time.monotonic()
            stored = session.post(f"{server.url}/events", json=body, timeout=30).json()["stored"]
            if forgotten_at and sent > forgotten_at[0]:
                after_forget.append(stored)

    threads = [threading.Thread(target=stream) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    server.admin("/forget", {"user_id": user})
    forgotten_at.append(time.monotonic())
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    store = open_store(server)
    try:
        assert store.recent_events(user, 10_000) == []
    finally:
        store.close()
    assert after_forget and not any(after_forget)


def test_users_without_consent_get_non_personalized_answers(
    server: Server, bentoml_home: Path
) -> None:
    profiles = sorted((bentoml_home / "models" / "tailor-profiles").glob("*/users.parquet"))
    users = pd.read_parquet(profiles[-1])
    off = users.loc[~users["consent"], "user_id"].tolist()
    assert off, "the synthetic users table has no opted-out user to test with"
    out = server.ok("/recommend", {"user_id": off[0], "k": 5})
    assert out["strategy"] == "popularity" and out["segment"] == "anonymous"


def test_health_metrics_and_openapi(server: Server) -> None:
    for path in ("/livez", "/readyz"):
        assert requests.get(f"{server.url}{path}", timeout=30).status_code == 200
    metrics = requests.get(f"{server.url}/metrics", timeout=30)
    assert metrics.status_code == 200 and "request" in metrics.text
    spec = requests.get(f"{server.url}/docs.json", timeout=30).json()
    for route in ("/recommend", "/similar_items", "/segment", "/next_purchase", "/events"):
        responses = spec["paths"][route]["post"]["responses"]
        assert {"200", "400", "413", "415", "429"} <= set(responses)
        assert "security" not in spec["paths"][route]["post"]
    for route in ("/stats", "/forget", "/dashboard"):
        op = spec["paths"][route]["post"]
        assert op["security"] == [{"bearer": []}] and {"401", "403"} <= set(op["responses"])
    assert set(spec["paths"]["/stats"]) == {"get", "post"}
    nullable = spec["paths"]["/next_purchase"]["post"]["responses"]["200"]["content"]
    schema = nullable["application/json"]["schema"]["properties"]["expected_days"]
    assert {"type": "null"} in schema["anyOf"]


def test_schemathesis_finds_no_failure(server: Server, tmp_path: Path) -> None:
    """Schemathesis in its default mode (positive and negative data) with every check over
    every operation, admin ones with the key: 0 failures."""
    cli = Path(sys.executable).with_name("schemathesis")
    cmd = [str(cli), "run", f"{server.url}/docs.json", "--mode", "all", "--checks", "all"]
    cmd += ["-H", f"Authorization: Bearer {API_KEY}", "--max-examples", "25", "--seed", "1"]
    cmd += ["--report", "junit", "--report-dir", str(tmp_path), "--no-color"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:]
    suites = [ET.parse(p).getroot() for p in tmp_path.glob("*.xml")]
    suite = suites[0] if suites[0].tag == "testsuite" else suites[0].find("testsuite")
    assert suite is not None and int(suite.get("tests", 0)) >= 13  # every operation ran
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert server.proc.poll() is None


@pytest.fixture(scope="module")
def guarded_server(
    server_env: Callable[..., dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
    known_users: list[str],
) -> Iterator[Server]:
    """A server with no API key configured, a tight rate limit, a brand-new store and a
    suppression list that already names a known user (forgotten before a store reset)."""
    workdir = tmp_path_factory.mktemp("serve_guarded")
    (workdir / "suppression_list.csv").write_text(
        f"user_id,forgotten_at\n{known_users[7]},2026-01-01T00:00:00+00:00\n"
    )
    env = server_env("sqlite", workdir, TAILOR_RATE_LIMIT="2", TAILOR_RATE_BURST="3")
    env.pop("TAILOR_API_KEY")
    with run_server(env, workdir) as srv:
        yield srv


def test_without_a_configured_key_admin_endpoints_refuse(guarded_server: Server) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    resp = requests.get(f"{guarded_server.url}/stats", headers=auth, timeout=30)
    assert resp.status_code == 403 and "TAILOR_API_KEY" in resp.json()["error"]


def test_public_endpoints_are_rate_limited_per_client(guarded_server: Server) -> None:
    time.sleep(2)  # a full bucket
    codes = [
        guarded_server.post("/recommend", {"user_id": fresh_user()}).status_code for _ in range(6)
    ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429, 429]
    limited = guarded_server.post("/recommend", {"user_id": fresh_user()})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    time.sleep(int(limited.headers["Retry-After"]))
    assert guarded_server.post("/recommend", {"user_id": fresh_user()}).status_code == 200


def test_service_reads_the_suppression_list_at_start(
    guarded_server: Server, known_users: list[str]
) -> None:
    time.sleep(1.5)
    out = guarded_server.ok("/recommend", {"user_id": known_users[7], "k": 3})
    assert out["segment"] == "anonymous"  # forgotten although the store is brand new


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_acknowledged_events_survive_kill_9(
    backend: str, server_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    """kill -9 of the whole service (and of redis-server) right after the 200s: every
    acknowledged event is in the store afterwards."""
    redis_proc = None
    extra = {}
    if backend == "redis":
        redis_proc, url = start_redis(tmp_path)
        extra = {"TAILOR_REDIS_URL": url}
    env = server_env(backend, tmp_path, **extra)
    user, items = f"durable-{uuid.uuid4().hex[:8]}", [f"I{n:05d}" for n in range(25)]
    try:
        with run_server(env, tmp_path) as srv:
            for item in items:
                ack = srv.ok("/events", {"user_id": user, "event_type": "view", "item_id": item})
                assert ack["stored"]
            srv.kill9()  # no shutdown hook, no flush: only what was persisted before each 200
            if redis_proc is not None:
                kill_tree([psutil.Process(redis_proc.pid)], signal.SIGKILL)
                redis_proc, url = start_redis(tmp_path)  # replays its append-only file
                srv.env["TAILOR_REDIS_URL"] = url
            store = open_store(srv)
            try:
                assert [e.item_id for e in store.recent_events(user, 100)] == items
            finally:
                store.close()
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)


def test_redis_down_recommend_degrades_and_writes_answer_503(
    server_env: Callable[..., dict[str, str]], known_users: list[str], tmp_path: Path
) -> None:
    """With its redis-server killed, the service still recommends (batch profile, the model
    for a known user, the reason says so) and refuses writes with a 503; the log names the
    store."""
    redis_proc, url = start_redis(tmp_path)
    env = server_env("redis", tmp_path, TAILOR_REDIS_URL=url, TAILOR_REDIS_TIMEOUT_S="0.5")
    user = known_users[0]
    try:
        with run_server(env, tmp_path) as srv:
            srv.ok("/events", {"user_id": user, "event_type": "view", "item_id": "x"})
            up = srv.ok("/recommend", {"user_id": user, "k": 5})
            assert "unavailable" not in up["reason"]
            kill_tree([psutil.Process(redis_proc.pid)], signal.SIGKILL)
            redis_proc.wait(10)
            down = srv.ok("/recommend", {"user_id": user, "k": 5})
            assert down["strategy"] == "model" and len(down["items"]) == 5, down
            assert "profile store unavailable (ConnectionError)" in down["reason"], down
            fresh = srv.ok("/recommend", {"user_id": fresh_user(), "k": 5})  # cold start
            assert fresh["strategy"] == "popularity" and len(fresh["items"]) == 5
            write = srv.post("/events", {"user_id": user, "event_type": "view", "item_id": "x"})
            assert write.status_code == 503, write.text  # BentoML hides a 5xx's message ...
            logs = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
            assert "profile store unavailable (ConnectionError): not acknowledged" in logs
            assert "answers without live events" in logs  # ... the server log names it
    finally:
        if redis_proc.poll() is None:
            redis_proc.kill()


def dump_store(server: Server) -> str:
    """Every byte the backend holds (SQLite file + WAL, or every Redis key and value)."""
    if server.backend == "sqlite":
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
