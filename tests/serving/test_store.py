"""The profile-store contract, run against both backends (SQLite file, real redis-server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailor.serving.store import Event, Feedback, ProfileStore, user_hash
from tailor.serving.store.redis_store import RedisStore
from tailor.serving.store.sqlite_store import SQLiteStore


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProfileStore]:
    if request.param == "sqlite":
        s: ProfileStore = SQLiteStore(tmp_path / "store.sqlite")
    else:
        s = RedisStore(request.getfixturevalue("redis_url"), prefix=f"t{uuid.uuid4().hex}:")
    yield s
    s.close()


def ev(user: str, n: int, kind: str = "view") -> Event:
    return Event(user_id=user, ts=1000.0 + n, event_type=kind, item_id=f"I{n}")


def test_events_in_order_and_limited(store: ProfileStore) -> None:
    for n in range(5):
        store.add_event(ev("u1", n))
    store.add_event(ev("u2", 9))
    assert [e.item_id for e in store.recent_events("u1", 3)] == ["I2", "I3", "I4"]
    assert [e.item_id for e in store.recent_events("u2", 10)] == ["I9"]
    assert store.recent_events("nobody", 10) == []
    assert len(list(store.iter_events())) == 6


def test_feedback_counts_per_segment_and_strategy(store: ProfileStore) -> None:
    for event in ("impression", "impression", "click"):
        store.add_feedback(Feedback("u1", "r1", "content", "loyal", event, 1.0))
    store.add_feedback(Feedback("u2", "r2", "model", "new", "impression", 2.0))
    assert store.bandit_counts("loyal") == {
        "content": {"impression": 2, "click": 1, "conversion": 0}
    }
    assert set(store.all_bandit_counts()) == {("loyal", "content"), ("new", "model")}
    assert len(list(store.iter_feedback())) == 4


def test_forget_removes_user_and_keeps_only_a_hash(store: ProfileStore) -> None:
    store.add_event(ev("gone", 1))
    store.add_event(ev("kept", 2))
    store.add_feedback(Feedback("gone", "r1", "model", "all", "click", 1.0))
    assert not store.is_suppressed("gone")
    assert store.forget("gone") == 2
    assert store.is_suppressed("gone") and not store.is_suppressed("kept")
    assert store.recent_events("gone", 10) == []
    assert all(e.user_id != "gone" for e in store.iter_events())
    assert all(f.user_id != "gone" for f in store.iter_feedback())
    assert [e.item_id for e in store.recent_events("kept", 10)] == ["I2"]
    assert user_hash("gone") != "gone"
    # the aggregate bandit counts stay (they hold no user id)
    assert store.bandit_counts("all")["model"]["click"] == 1


def test_counters(store: ProfileStore) -> None:
    store.incr("unknown_item_events")
    store.incr("unknown_item_events", 2)
    assert store.counters() == {"unknown_item_events": 3}


def test_sqlite_forget_scrubs_the_file(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "store.sqlite")
    s.add_event(ev("secret-user-42", 1))
    s.forget("secret-user-42")
    s.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite*"))
    assert b"secret-user-42" not in raw
