"""The live event log: a Redis Stream that /events and /feedback append to (``TAILOR_STREAM=1``).

One stream (``{prefix}stream``) holds events and feedback in arrival order. Two consumer
groups read it: ``profiles`` (``tailor.serving.consumer``: applies each entry to the live
profile, idempotently by event id) and ``archive`` (``tailor.serving.archive``: writes
Parquet segments that the next training run reads as ``raw_live_events``). An append is one
Lua script: the suppression check, the replay check of feedback and the XADD are atomic,
and with ``appendfsync always`` the reply comes after the entry is on disk. Entries are
trimmed only once both groups have acknowledged them (archived and applied) and they are
older than ``keep_s``. Kafka maps onto this interface as described in docs/serving.md.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from tailor.serving.store.base import Event, Feedback, user_hash

PROFILES, ARCHIVE = "profiles", "archive"
GROUPS = (PROFILES, ARCHIVE)
RATE_TTL_S = 600  # per-minute applied counters kept for the throughput figure

# KEYS: suppressed set, stream. ARGV: user hash, then the entry's field/value pairs.
APPEND_EVENT = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
"""
# A producer's batch: KEYS as above; ARGV: 4 values per event (user hash, id, time, data).
# Per event: the entry id, or 0 for a suppressed user.
APPEND_EVENTS = """
local out = {}
for i = 1, #ARGV, 4 do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    out[#out + 1] = 0
  else
    out[#out + 1] = redis.call('XADD', KEYS[2], '*', 'k', 'event', 'id', ARGV[i + 1],
                               't', ARGV[i + 2], 'd', ARGV[i + 3])
  end
end
return out
"""
# KEYS: suppressed set, stream, replay key. ARGV: user hash, replay ttl, then field/values.
APPEND_FEEDBACK = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return false end
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
"""


@dataclass(frozen=True)
class Entry:
    """One stream entry: an event or a feedback record, with the time the log received it."""

    entry_id: str  # the stream id ("<ms>-<seq>")
    kind: str  # "event" or "feedback"
    event_id: str
    received: float
    record: Event | Feedback


def new_event_id() -> str:
    return uuid.uuid4().hex


def fields_of(kind: str, event_id: str, record: Event | Feedback, received: float) -> list[str]:
    data = record.to_dict() if isinstance(record, Event) else dict(record.__dict__)
    data["event_id"] = event_id
    return ["k", kind, "id", event_id, "t", repr(received), "d", json.dumps(data)]


def parse(entry_id: str, fields: dict[str, str]) -> Entry:
    data = json.loads(fields["d"])
    kind = fields["k"]
    if kind != "event":
        data.pop("event_id", None)
    record: Event | Feedback = Event(**data) if kind == "event" else Feedback(**data)
    return Entry(entry_id, kind, fields["id"], float(fields["t"]), record)


def entry_time(entry_id: str) -> float:
    """Epoch seconds at which Redis appended the entry (the id's millisecond part)."""
    return int(entry_id.split("-", 1)[0]) / 1000


def _after(entry_id: str) -> str:
    ms, seq = entry_id.split("-", 1)
    return f"{ms}-{int(seq) + 1}"


class EventLog:
    """Append, read, acknowledge, reclaim and trim the stream; report its lag."""

    def __init__(self, client: redis.Redis, prefix: str = "tailor:", keep_s: float = 3600) -> None:
        self.r = client
        self.p = prefix
        self.key = f"{prefix}stream"
        self.keep_s = keep_s
        self._append_event = client.register_script(APPEND_EVENT)
        self._append_feedback = client.register_script(APPEND_FEEDBACK)
        self._append_events = client.register_script(APPEND_EVENTS)
        for group in GROUPS:
            self.ensure_group(group)

    def ensure_group(self, group: str) -> None:
        try:
            self.r.xgroup_create(self.key, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # --- producers ------------------------------------------------------------------------
    def append_event(self, event: Event, event_id: str, received: float, client: Any = None) -> Any:
        """The entry id, or None for a suppressed user (nothing appended). With a pipeline
        as ``client`` the call is queued (batching producers)."""
        keys = [f"{self.p}suppressed", self.key]
        args = [user_hash(event.user_id), *fields_of("event", event_id, event, received)]
        return self._append_event(keys=keys, args=args, client=client)

    def append_events(self, events: list[tuple[Event, str]], received: float) -> list[Any]:
        """A batch in one script (a producer appending directly): per event its entry id,
        or None for a suppressed user. The batch is atomic and durable as one append."""
        args: list[Any] = []
        for event, event_id in events:
            _, _, _, eid, _, t, _, d = fields_of("event", event_id, event, received)
            args += [user_hash(event.user_id), eid, t, d]
        keys = [f"{self.p}suppressed", self.key]
        return [r or None for r in self._append_events(keys=keys, args=args)]

    def append_feedback(self, fb: Feedback, event_id: str, replay_ttl: int) -> Any:
        """The entry id; None for a replay of (request id, event) or a suppressed user."""
        keys = [f"{self.p}suppressed", self.key, f"{self.p}seen:{fb.request_id}:{fb.event}"]
        args = [user_hash(fb.user_id), replay_ttl, *fields_of("feedback", event_id, fb, fb.ts)]
        return self._append_feedback(keys=keys, args=args)

    # --- consumers ------------------------------------------------------------------------
    def read(self, group: str, consumer: str, count: int, block_ms: int | None, new: bool = True):
        """New entries (``new``) or this consumer's own pending ones (after a restart)."""
        got = self.r.xreadgroup(
            group, consumer, {self.key: ">" if new else "0"}, count=count, block=block_ms
        )
        return [parse(i, f) for i, f in got[0][1] if f] if got else []

    def claim(self, group: str, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries another consumer of ``group`` took but did not acknowledge for
        ``min_idle_ms`` (it crashed): they are now this consumer's (XAUTOCLAIM)."""
        out: list[Entry] = []
        start = "0-0"
        while True:
            nxt, claimed, *_ = self.r.xautoclaim(
                self.key, group, consumer, min_idle_ms, start_id=start, count=count
            )
            out += [parse(i, f) for i, f in claimed if f]
            if nxt in ("0-0", b"0-0") or len(out) >= count:
                return out
            start = nxt

    def ack(self, group: str, ids: list[str], client: Any = None) -> Any:
        return (client or self.r).xack(self.key, group, *ids) if ids else 0

    def count_applied(self, n: int, now: float, client: Any = None) -> None:
        """Per-minute counters of applied entries (the throughput on /stats)."""
        c = client or self.r
        minute = f"{self.p}stream:applied:{int(now // 60)}"
        c.incrby(minute, n)
        c.expire(minute, RATE_TTL_S)
        c.hincrby(f"{self.p}counters", "stream_applied", n)

    # --- retention ------------------------------------------------------------------------
    def frontier(self, group: str) -> str | None:
        """The lowest id ``group`` still needs (its oldest pending, else just after the last
        one it was given); None when the group does not exist."""
        for g in self.r.xinfo_groups(self.key):
            if _s(g["name"]) != group:
                continue
            pending = self.r.xpending(self.key, group)
            if pending["pending"]:
                return _s(pending["min"])
            return _after(_s(g["last-delivered-id"]))
        return None

    def trim(self, now: float) -> int:
        """Drop entries every group has acknowledged (archived and applied) that are older
        than ``keep_s``; nothing unarchived is ever trimmed. Returns entries removed."""
        keep_from = f"{int((now - self.keep_s) * 1000)}-0"
        bounds = [self.frontier(g) for g in GROUPS]
        if any(b is None for b in bounds):
            return 0  # a group is missing: keep everything
        minid = min([keep_from, *bounds], key=_id_key)  # type: ignore[list-item]
        return int(self.r.xtrim(self.key, minid=minid, approximate=False))

    # --- figures --------------------------------------------------------------------------
    def info(self, now: float | None = None) -> dict[str, Any]:
        """Length, and per group: lag (entries not yet delivered), pending (delivered, not
        acknowledged), age of the oldest unacknowledged entry; applied per second."""
        now = time.time() if now is None else now
        groups = {}
        try:
            rows = self.r.xinfo_groups(self.key)
        except redis.ResponseError:
            rows = []
        for g in rows:
            name = _s(g["name"])
            pending = self.r.xpending(self.key, name)
            oldest = None
            if pending["pending"]:
                oldest = _s(pending["min"])
            elif g.get("lag"):  # undelivered entries: the oldest is the next one
                nxt = self.r.xrange(self.key, min=f"({_s(g['last-delivered-id'])}", count=1)
                oldest = _s(nxt[0][0]) if nxt else None
            lag = g.get("lag")
            groups[name] = {
                "lag": None if lag is None else int(lag),
                "pending": int(pending["pending"]),
                "oldest_unacked_age_s": None
                if oldest is None
                else round(max(0.0, now - entry_time(oldest)), 3),
            }
        minute = int(now // 60)
        done, cur = self.r.mget(
            f"{self.p}stream:applied:{minute - 1}", f"{self.p}stream:applied:{minute}"
        )
        span = 60 + (now - minute * 60)
        return {
            "length": int(self.r.xlen(self.key)),
            "groups": groups,
            "applied_per_s": round((int(done or 0) + int(cur or 0)) / span, 2),
        }


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-", 1)
    return int(ms), int(seq)


def open_log(store: Any) -> EventLog | None:
    """The log when ``TAILOR_STREAM=1`` (it needs the Redis store), else None."""
    import os

    if os.environ.get("TAILOR_STREAM", "0") != "1":
        return None
    from tailor.serving.store.redis_store import RedisStore

    if not isinstance(store, RedisStore):
        raise RuntimeError("TAILOR_STREAM=1 needs the Redis store: set TAILOR_REDIS_URL")
    return EventLog(store.r, store.p, keep_s=float(os.environ.get("TAILOR_STREAM_KEEP_S", 3600)))
