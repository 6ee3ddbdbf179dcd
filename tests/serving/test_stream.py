"""The event log (Redis Streams) with a real redis-server and real consumer processes.

Exactly once under crashes: a producer appends while the consumer is killed with SIGKILL,
then redis-server too; both restart (redis on its fsync-always append-only file, the
consumer under another name, so the dead one's pending entries must be claimed with
XAUTOCLAIM) and every acknowledged event is in exactly one live profile, counted by event
id. A consumer that died between applying and acknowledging is staged with the real store
calls (its entries applied, never acknowledged), since a kill -9 rarely lands in that
window by chance. Also the archive (segments, acknowledgement, trimming) and the lag figures.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
import redis

from tailor.serving.archive import Archiver
from tailor.serving.store.base import Event
from tailor.serving.store.redis_store import RedisStore
from tailor.serving.stream import ARCHIVE, PROFILES, EventLog, new_event_id
from tests.serving.conftest import free_port, kill_tree, start_redis

pytestmark = pytest.mark.e2e


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts (and restarts) one redis-server on a fixed port and directory."""
    port, procs = free_port(), []

    def start() -> subprocess.Popen:
        procs.append(start_redis(tmp_path, port)[0])
        return procs[-1]

    start.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def consumer(env: dict[str, str], name: str, cwd: Path) -> subprocess.Popen:
    args = ["--name", name, "--batch", "50", "--claim-idle-ms", "500"]
    log = open(cwd / f"consumer-{name}.log", "w")  # noqa: SIM115 - the process owns it
    return subprocess.Popen(
        [sys.executable, "-m", "tailor.serving.consumer", *args],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_acknowledged_event_is_applied_exactly_once_across_kill_9(
    private_redis: Callable[[], subprocess.Popen],
    server_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    redis_proc = private_redis()
    url = private_redis.url  # type: ignore[attr-defined]
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    env = server_env("redis", tmp_path, TAILOR_STREAM="1")
    env |= {"TAILOR_REDIS_URL": url, "TAILOR_REDIS_PREFIX": prefix, "TAILOR_REDIS_TIMEOUT_S": "1"}
    first = consumer(env, "c1", tmp_path)
    store = RedisStore(url, prefix=prefix)
    wait_for(lambda: bool(store.r.exists(f"{prefix}stream")), 120, "the consumer to start")
    acked: list[str] = []
    tried: set[str] = set()
    stop = threading.Event()
    users = [f"s-{i}" for i in range(40)]

    def produce() -> None:
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=1)
        log = EventLog(client, prefix)
        i = 0
        while not stop.is_set():
            batch = []
            for _ in range(20):
                ev = Event(users[i % len(users)], time.time(), "view", f"I{i % 97}")
                batch.append((ev, new_event_id()))
                i += 1
            tried.update(eid for _, eid in batch)
            try:
                results = log.append_events(batch, time.time())
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                time.sleep(0.05)  # not acknowledged: those events may or may not be in
                continue
            acked.extend(eid for (_, eid), r in zip(batch, results, strict=True) if r)
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_for(lambda: len(acked) > 400, 60, "load")
        kill_tree([psutil.Process(first.pid)], signal.SIGKILL)  # the consumer, mid-batch
        wait_for(lambda: len(acked) > 800, 60, "load without a consumer")
        # a consumer that died after applying a batch but before its XACK (the window a
        # kill -9 can hit): its entries are redelivered and must change nothing
        ghost = EventLog(store.r, prefix).read(PROFILES, "ghost", 20, None)
        for e in ghost:
            assert store.apply_once(e.event_id, e.record, [], {}, e.received) == 1
        kill_tree([psutil.Process(redis_proc.pid)], signal.SIGKILL)  # then redis-server
        time.sleep(0.5)
        private_redis()  # on its append-only file
        second = consumer(env, "c2", tmp_path)  # another name: c1's entries must be claimed
        n = len(acked)
        wait_for(lambda: len(acked) > n + 400, 60, "load after the restart")
    finally:
        stop.set()
        producer.join(30)
    try:
        log = EventLog(store.r, prefix)

        def drained() -> bool:
            g = log.info()["groups"][PROFILES]
            return g["lag"] == 0 and g["pending"] == 0

        wait_for(drained, 120, "the consumer to apply everything")
        applied = collections.Counter(
            ev.event_id for u in users for ev in store.recent_events(u, 10_000)
        )
    finally:
        kill_tree([psutil.Process(second.pid)], signal.SIGKILL)
    assert len(acked) > 1200
    doubled = {k: v for k, v in applied.items() if v > 1}
    assert not doubled, f"applied more than once: {list(doubled.items())[:5]}"
    lost = set(acked) - set(applied)
    assert not lost, f"{len(lost)} acknowledged events never applied"
    assert set(applied) <= tried  # nothing invented
    assert len(ghost) == 20 and all(applied[e.event_id] == 1 for e in ghost)
    logs = "".join(p.read_text() for p in tmp_path.glob("consumer-*.log"))
    assert "claimed" in logs  # the dead consumers' entries came back through XAUTOCLAIM


@pytest.fixture
def log_on_redis(redis_url: str) -> Iterator[tuple[RedisStore, EventLog]]:
    store = RedisStore(redis_url, prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield store, EventLog(store.r, store.p, keep_s=0)
    for key in store.r.scan_iter(f"{store.p}*"):
        store.r.delete(key)


def test_archive_writes_acks_and_trims_only_what_every_group_is_done_with(
    log_on_redis: tuple[RedisStore, EventLog], tmp_path: Path
) -> None:
    store, log = log_on_redis
    now = time.time()
    batch = [(Event(f"a-{i % 3}", now, "purchase", f"I{i}"), new_event_id()) for i in range(10)]
    log.append_events(batch, now)
    store.forget("a-2")  # forgotten before the archive ran: never written
    archiver = Archiver(log, tmp_path, "arch")
    assert archiver.drain() == 10
    rows = pd.read_parquet(tmp_path / "events")
    kept = {eid for ev, eid in batch if ev.user_id != "a-2"}
    assert set(rows["event_id"]) == kept and len(rows) == len(kept)
    info = log.info()["groups"]
    assert info[ARCHIVE]["pending"] == 0 and info[ARCHIVE]["lag"] == 0
    # the profiles group has not read them: nothing may be trimmed yet
    assert info[PROFILES]["lag"] == 10 and log.info()["length"] == 10
    assert info[PROFILES]["oldest_unacked_age_s"] is not None
    got = log.read(PROFILES, "p", 100, None)
    log.ack(PROFILES, [e.entry_id for e in got[:4]])
    assert log.trim(time.time()) == 4  # archived and applied: gone; the rest stays
    log.ack(PROFILES, [e.entry_id for e in got[4:]])
    assert log.trim(time.time()) == 6 and log.info()["length"] == 0


def test_entries_a_dead_consumer_held_are_claimed(
    log_on_redis: tuple[RedisStore, EventLog],
) -> None:
    _, log = log_on_redis
    now = time.time()
    log.append_events([(Event("c", now, "view", f"I{i}"), new_event_id()) for i in range(5)], now)
    taken = log.read(PROFILES, "dead", 3, None)  # delivered, never acknowledged
    assert log.claim(PROFILES, "alive", 60_000, 10) == []  # not idle long enough yet
    time.sleep(0.05)
    claimed = log.claim(PROFILES, "alive", 10, 10)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in taken]
    assert log.info()["groups"][PROFILES]["pending"] == 3


def test_an_entry_is_applied_once_however_often_it_is_delivered(
    log_on_redis: tuple[RedisStore, EventLog],
) -> None:
    store, _ = log_on_redis
    ev = Event("once", time.time(), "view", "I1", event_id=new_event_id())
    assert store.apply_once(ev.event_id, ev, [], {}, time.time()) == 1
    assert store.apply_once(ev.event_id, ev, [], {}, time.time()) == 2
    assert [e.event_id for e in store.recent_events("once", 10)] == [ev.event_id]
    store.forget("once")
    later = Event("once", time.time(), "view", "I2", event_id=new_event_id())
    assert store.apply_once(later.event_id, later, [], {}, time.time()) == 0
    assert store.recent_events("once", 10) == []
