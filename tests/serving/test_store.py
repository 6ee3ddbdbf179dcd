"""The profile-store contract, run against both backends (SQLite file, real redis-server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailor.serving.store import Event, Feedback, Incr, ProfileStore, Retention, Visit, user_hash
from tailor.serving.store.base import bucket_of
from tailor.serving.store.redis_store import RedisStore
from tailor.serving.store.sqlite_store import SQLiteStore

NOW = 1_800_000_000.0  # a fixed "now" (2027-01-15 08:00 UTC)
SMALL = Retention(max_events=50, max_age_s=3_600, hourly_days=1, daily_days=3)


def open_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path, r: Retention):
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "store.sqlite", retention=r)
    url = request.getfixturevalue("redis_url")
    return RedisStore(url, prefix=f"t{uuid.uuid4().hex}:", retention=r)


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    s = open_backend(request.param, request, tmp_path, Retention())
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "redis"])
def small_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    s = open_backend(request.param, request, tmp_path, SMALL)
    yield s
    s.close()


def ev(user: str, n: int, kind: str = "view") -> Event:
    return Event(user_id=user, ts=1000.0 + n, event_type=kind, item_id=f"I{n}")


def fb(user: str, rid: str, event: str, segment: str = "loyal", strategy: str = "content"):
    return Feedback(user, rid, strategy, segment, event, NOW)


def test_events_in_order_and_limited(store: ProfileStore) -> None:
    for n in range(5):
        assert store.add_event(ev("u1", n), [], {}, NOW)
    store.add_event(ev("u2", 9), [], {}, NOW)
    assert [e.item_id for e in store.recent_events("u1", 3)] == ["I2", "I3", "I4"]
    assert [e.item_id for e in store.recent_events("u2", 10)] == ["I9"]
    assert store.recent_events("nobody", 10) == []
    assert len(list(store.iter_events())) == 6


def test_feedback_is_counted_once_per_request_and_event(store: ProfileStore) -> None:
    inc = [Incr("loyal", "content", "impression", 1, NOW)]
    assert store.add_feedback(fb("u1", "r1", "impression"), inc, {}, NOW)
    assert not store.add_feedback(fb("u1", "r1", "impression"), inc, {}, NOW)  # replay
    click = [Incr("loyal", "content", "click", 1, NOW)]
    assert store.add_feedback(fb("u1", "r1", "click"), click, {}, NOW)
    assert store.add_feedback(fb("u2", "r2", "impression"), inc, {}, NOW)
    assert store.bandit_counts("loyal") == {
        "content": {"impression": 2, "click": 1, "conversion": 0}
    }
    assert store.bandit_counts("other") == {}
    assert len(list(store.iter_feedback())) == 3


def test_counters_land_in_all_hour_and_day_buckets(store: ProfileStore) -> None:
    earlier = NOW - 2 * 86_400
    store.add_event(ev("u1", 1), [Incr("s", "model", "dwell_sum", 42.5, NOW)], {}, NOW)
    store.add_event(ev("u1", 2), [Incr("s", "model", "dwell_sum", 7.5, earlier)], {}, NOW)
    total = {(r.segment, r.strategy, r.metric): r.value for r in store.counter_rows("all")}
    assert total == {("s", "model", "dwell_sum"): 50.0}
    hours = {(r.bucket, r.value) for r in store.counter_rows("hour")}
    assert hours == {(bucket_of(NOW, "hour"), 42.5), (bucket_of(earlier, "hour"), 7.5)}
    days = {(r.bucket, r.value) for r in store.counter_rows("day", since=NOW - 86_400)}
    assert days == {(bucket_of(NOW, "day"), 42.5)}


def test_visits_are_kept_per_user(store: ProfileStore) -> None:
    store.add_feedback(fb("u1", "r1", "impression"), [], {"loyal|content": Visit(NOW)}, NOW)
    assert store.visits("u1") == {"loyal|content": Visit(NOW, False)}
    store.add_event(ev("u1", 1), [], {"loyal|content": Visit(NOW, True)}, NOW)
    assert store.visits("u1") == {"loyal|content": Visit(NOW, True)}
    assert store.visits("u2") == {}


def test_forget_removes_user_and_refuses_their_later_writes(store: ProfileStore) -> None:
    store.add_event(ev("gone", 1), [], {"s|model": Visit(NOW)}, NOW)
    store.add_event(ev("kept", 2), [], {}, NOW)
    store.add_feedback(fb("gone", "r1", "click"), [Incr("all", "model", "click", 1, NOW)], {}, NOW)
    assert not store.is_suppressed("gone")
    assert store.forget("gone") == 2
    assert store.is_suppressed("gone") and not store.is_suppressed("kept")
    assert store.recent_events("gone", 10) == [] and store.visits("gone") == {}
    assert not store.add_event(ev("gone", 3), [Incr("all", "model", "views", 1, NOW)], {}, NOW)
    assert not store.add_feedback(fb("gone", "r9", "click"), [], {}, NOW)
    assert all(e.user_id != "gone" for e in store.iter_events())
    assert all(f.user_id != "gone" for f in store.iter_feedback())
    assert [e.item_id for e in store.recent_events("kept", 10)] == ["I2"]
    # the aggregate counters stay (they hold no user id); the refused write added nothing
    assert store.bandit_counts("all")["model"]["click"] == 1
    assert not any(r.metric == "views" for r in store.counter_rows("all"))
    assert user_hash("gone") != "gone"


def test_suppress_without_forget(store: ProfileStore) -> None:
    store.suppress(["NA", "00123"])
    assert store.is_suppressed("NA") and store.is_suppressed("00123")
    assert not store.is_suppressed("123")
    assert not store.add_event(ev("NA", 1), [], {}, NOW)


def test_1000_events_for_one_user_stay_within_the_retention_bound(
    small_store: ProfileStore,
) -> None:
    for n in range(1000):
        assert small_store.add_event(ev("heavy", n), [], {}, NOW + n * 0.001)
    kept = small_store.recent_events("heavy", 10_000)
    assert len(kept) == SMALL.max_events
    assert [e.item_id for e in kept] == [f"I{n}" for n in range(950, 1000)]
    assert len(list(small_store.iter_events())) == SMALL.max_events


def test_events_older_than_the_retention_age_are_dropped(small_store: ProfileStore) -> None:
    small_store.add_event(ev("u", 1), [], {}, NOW - 7_200)  # received two hours ago
    small_store.add_event(ev("idle", 2), [], {}, NOW - 7_200)
    small_store.add_event(ev("u", 3), [], {}, NOW)
    assert [e.item_id for e in small_store.recent_events("u", 10)] == ["I3"]  # trimmed on write
    small_store.purge(NOW)  # SQLite sweeps idle users; Redis keys carry a TTL instead
    if isinstance(small_store, RedisStore):
        ttl = small_store.r.ttl(f"{small_store.p}ev:idle")
        assert 0 < ttl <= SMALL.max_age_s + 1
    else:
        assert small_store.recent_events("idle", 10) == []


def test_hourly_counters_expire(small_store: ProfileStore) -> None:
    old = NOW - 3 * 86_400
    small_store.add_event(ev("u", 1), [Incr("s", "model", "views", 1, old)], {}, NOW)
    small_store.add_event(ev("u", 2), [Incr("s", "model", "views", 1, NOW)], {}, NOW)
    small_store.purge(NOW)
    if isinstance(small_store, RedisStore):
        key = f"{small_store.p}stats:hour:{bucket_of(old, 'hour')}"
        assert 0 < small_store.r.ttl(key) <= SMALL.hourly_days * 86_400 + 3_600
    else:
        assert {r.bucket for r in small_store.counter_rows("hour")} == {bucket_of(NOW, "hour")}
    assert sum(r.value for r in small_store.counter_rows("all")) == 2  # all time stays


def test_secret_is_created_once_and_shared(
    request: pytest.FixtureRequest, tmp_path: Path, store: ProfileStore
) -> None:
    first = store.secret()
    assert len(first) == 32 and store.secret() == first
    if isinstance(store, RedisStore):
        other: ProfileStore = RedisStore(request.getfixturevalue("redis_url"), prefix=store.p)
    else:
        other = SQLiteStore(tmp_path / "store.sqlite")
    try:
        assert other.secret() == first  # another worker process sees the same secret
    finally:
        other.close()


def test_counters(store: ProfileStore) -> None:
    store.incr("unknown_item_events")
    store.incr("unknown_item_events", 2)
    assert store.counters() == {"unknown_item_events": 3}


def test_sqlite_forget_scrubs_the_file(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "store.sqlite")
    s.add_event(ev("secret-user-42", 1), [], {}, NOW)
    s.forget("secret-user-42")
    s.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite*"))
    assert b"secret-user-42" not in raw


def test_user_view_is_the_three_reads_of_recommend(store: ProfileStore) -> None:
    """The hot path's batched read (one round trip on Redis) answers what the separate reads
    answer: newest events oldest first, the segment's feedback counts, the suppression."""
    for n in range(6):
        store.add_event(ev("u1", n), [], {}, NOW)
    store.add_feedback(
        fb("u1", "r1", "impression"), [Incr("loyal", "model", "impression", 1, NOW)], {}, NOW
    )
    store.add_feedback(fb("u1", "r1", "click"), [Incr("loyal", "model", "click", 1, NOW)], {}, NOW)
    store.add_event(ev("u2", 7), [Incr("loyal", "model", "dwell_sum", 3.0, NOW)], {}, NOW)
    view = store.user_view("u1", 4, "loyal")
    assert not view.suppressed
    assert [e.item_id for e in view.events] == ["I2", "I3", "I4", "I5"]
    assert view.counts == {"model": {"impression": 1, "click": 1, "conversion": 0}}
    assert store.user_view("u1", 4, "other").counts == {}
    store.forget("u2")
    gone = store.user_view("u2", 4, "loyal")
    assert gone.suppressed and gone.events == []
