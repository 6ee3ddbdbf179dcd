"""Redis profile store (``TAILOR_REDIS_URL``): the same interface as the SQLite store.

Durability is the Redis server's: run it with ``appendonly yes`` and ``appendfsync always``
for the same guarantee as SQLite (see docs/serving.md). Each write is one Lua script, so
the suppression check, the append, the trim and the counters are atomic (Redis runs a
script alone); per-user keys and hourly/daily counters carry TTLs, so idle state expires.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from typing import Any

import redis

from tailor.serving.store.base import (
    GRANULARITIES,
    CounterRow,
    Event,
    Feedback,
    Incr,
    ProfileStore,
    Retention,
    UserView,
    Visit,
    bandit_counts_of,
    bucket_of,
    user_hash,
)

# KEYS: suppressed set, the user's list, the user's visits hash, (feedback) the seen key.
# ARGV: user hash, record json, max records, oldest received kept, ttl, prefix, increments
# json, visits json, hourly ttl, daily ttl, (feedback) seen ttl.
_APPLY = """
local function apply(prefix, incrs, visits, visit_key, ttl, hour_ttl, day_ttl)
  for _, inc in ipairs(cjson.decode(incrs)) do
    local seg, strategy, metric, value = inc[1], inc[2], inc[3], inc[4]
    redis.call('HINCRBYFLOAT', prefix .. 'stats:all:' .. seg, strategy .. '|' .. metric, value)
    redis.call('SADD', prefix .. 'segments', seg)
    local field = seg .. '|' .. strategy .. '|' .. metric
    local hour = prefix .. 'stats:hour:' .. inc[5]
    redis.call('HINCRBYFLOAT', hour, field, value)
    redis.call('EXPIRE', hour, hour_ttl)
    local day = prefix .. 'stats:day:' .. inc[6]
    redis.call('HINCRBYFLOAT', day, field, value)
    redis.call('EXPIRE', day, day_ttl)
  end
  local n = 0
  for key, v in pairs(cjson.decode(visits)) do
    redis.call('HSET', visit_key, key, cjson.encode(v))
    n = n + 1
  end
  if n > 0 then redis.call('EXPIRE', visit_key, ttl) end
end
local function append(list, record, max_n, oldest, ttl)
  redis.call('RPUSH', list, record)
  redis.call('LTRIM', list, -tonumber(max_n), -1)
  while true do
    local head = redis.call('LINDEX', list, 0)
    if not head or cjson.decode(head)['received'] >= tonumber(oldest) then break end
    redis.call('LPOP', list)
  end
  redis.call('EXPIRE', list, ttl)
end
"""
ADD_EVENT = (
    _APPLY
    + """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
append(KEYS[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
apply(ARGV[6], ARGV[7], ARGV[8], KEYS[3], ARGV[5], ARGV[9], ARGV[10])
return 1
"""
)
ADD_FEEDBACK = (
    _APPLY
    + """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[11]) then return 0 end
append(KEYS[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
apply(ARGV[6], ARGV[7], ARGV[8], KEYS[3], ARGV[5], ARGV[9], ARGV[10])
return 1
"""
)

# The event log's consumer (tailor.serving.consumer): the same writes, once per event id, a
# whole batch in one script. Per-user keys are derived from the prefix (one Redis server; a
# cluster would need hash tags). ARGV: suppressed key, prefix, then 12 values per entry:
# kind ("ev"/"fb"), user, then ARGV[1..5], [7..10] of the scripts above, then the event id.
# The user's applied ids are a sorted set scored by the "oldest kept" bound (it grows with
# the time received), as bounded as the user's list. Per entry: 1 applied, 2 already
# applied (a redelivery: nothing changes), 0 user suppressed.
APPLY_BATCH = (
    _APPLY
    + """
local out, p = {}, ARGV[2]
for i = 3, #ARGV, 12 do
  local kind, user, uh, record, max_n, oldest, ttl = unpack(ARGV, i, i + 6)
  local incrs, visits, hour_ttl, day_ttl, event_id = unpack(ARGV, i + 7, i + 11)
  local applied = p .. 'applied:' .. user
  if redis.call('SISMEMBER', ARGV[1], uh) == 1 then
    out[#out + 1] = 0
  elseif redis.call('ZADD', applied, 'NX', oldest, event_id) == 0 then
    out[#out + 1] = 2
  else
    redis.call('ZREMRANGEBYRANK', applied, 0, -2 - tonumber(max_n))
    redis.call('EXPIRE', applied, ttl)
    append(p .. kind .. ':' .. user, record, max_n, oldest, ttl)
    apply(p, incrs, visits, p .. 'visit:' .. user, ttl, hour_ttl, day_ttl)
    out[#out + 1] = 1
  end
end
return out
"""
)
# The consumer's reads for a batch: each user's newest event ('' if none) and visits.
READ_STATE = """
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = redis.call('LRANGE', ARGV[1] .. 'ev:' .. ARGV[i], -1, -1)[1] or ''
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. 'visit:' .. ARGV[i])
end
return out
"""


class RedisStore(ProfileStore):
    """Keys (prefix ``p``): ``ev:{user}`` and ``fb:{user}`` lists, ``visit:{user}`` hashes,
    ``stats:all:{segment}`` hashes (``strategy|metric``), ``stats:{hour|day}:{bucket}``
    hashes (``segment|strategy|metric``), ``segments`` set, ``seen:{request}:{event}``,
    ``suppressed`` set of hashes, ``counters`` hash, ``secret``."""

    def __init__(self, url: str, prefix: str = "tailor:", retention: Retention | None = None):
        # Bounded waits: /recommend reads the store on the event loop, so a Redis that stops
        # answering must fail the read (the answer degrades to the batch profile) rather than
        # stall the worker.
        timeout = float(os.environ.get("TAILOR_REDIS_TIMEOUT_S", "2"))
        self.r = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.p = prefix
        self.retention = retention or Retention()
        self.r.ping()
        self._add_event = self.r.register_script(ADD_EVENT)
        self._add_feedback = self.r.register_script(ADD_FEEDBACK)
        self._apply_batch = self.r.register_script(APPLY_BATCH)
        self._read_state = self.r.register_script(READ_STATE)

    def _args(
        self, user_id: str, record: dict, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> list:
        r = self.retention
        ttl = int(r.max_age_s) + 1
        return [
            user_hash(user_id),
            json.dumps({**record, "received": now}),
            r.max_events,
            now - r.max_age_s,
            ttl,
            self.p,
            json.dumps([[i.segment, i.strategy, i.metric, i.value, *_buckets(i.at)] for i in incrs])
            if incrs
            else "[]",  # most events change no counter: skip the encoder
            json.dumps({k: [v.t0, v.returned] for k, v in visits.items()}) if visits else "{}",
            int(r.hourly_days * 86_400) + GRANULARITIES["hour"],
            int(r.daily_days * 86_400) + GRANULARITIES["day"],
        ]

    def add_event(
        self, event: Event, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> bool:
        u = event.user_id
        keys = [f"{self.p}suppressed", f"{self.p}ev:{u}", f"{self.p}visit:{u}"]
        args = self._args(u, event.to_dict(), incrs, visits, now)
        return bool(self._add_event(keys=keys, args=args))

    def recent_events(self, user_id: str, limit: int) -> list[Event]:
        rows = self.r.lrange(f"{self.p}ev:{user_id}", -limit, -1)
        return [_event(r) for r in rows]

    def add_feedback(
        self, feedback: Feedback, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> bool:
        f = feedback
        keys = [
            f"{self.p}suppressed",
            f"{self.p}fb:{f.user_id}",
            f"{self.p}visit:{f.user_id}",
            f"{self.p}seen:{f.request_id}:{f.event}",
        ]
        args = self._args(f.user_id, dict(f.__dict__), incrs, visits, now)
        args.append(int(self.retention.max_age_s) + 1)
        return bool(self._add_feedback(keys=keys, args=args))

    def apply_batch(
        self,
        items: list[tuple[str, Event | Feedback, list[Incr], dict[str, Visit], float]],
        client: Any = None,
    ) -> Any:
        """Entries of the event log as ``(event id, record, increments, visits, received)``,
        each applied at most once per event id (atomic with its write), in one script;
        queued on ``client`` when it is a pipeline. Per entry: 1, 2 (redelivery) or 0."""
        argv: list[Any] = [f"{self.p}suppressed", self.p]
        for event_id, record, incrs, visits, now in items:
            kind = "ev" if isinstance(record, Event) else "fb"
            data = record.to_dict() if isinstance(record, Event) else dict(record.__dict__)
            a = self._args(record.user_id, data, incrs, visits, now)
            argv += [kind, record.user_id, *a[:5], *a[6:10], event_id]
        return self._apply_batch(keys=[], args=argv, client=client)

    def apply_once(
        self,
        event_id: str,
        record: Event | Feedback,
        incrs: list[Incr],
        visits: dict[str, Visit],
        now: float,
    ) -> int:
        return int(self.apply_batch([(event_id, record, incrs, visits, now)])[0])

    def live_state(self, users: list[str]) -> dict[str, tuple[Event | None, dict[str, Visit]]]:
        """Each user's newest event and visits, in one round trip (the consumer's reads)."""
        got = self._read_state(keys=[], args=[self.p, *users]) if users else []
        out = {}
        for i, u in enumerate(users):
            last, flat = got[2 * i], got[2 * i + 1]
            visits = {flat[j]: Visit(*json.loads(flat[j + 1])) for j in range(0, len(flat), 2)}
            out[u] = (_event(last) if last else None, visits)
        return out

    def visits(self, user_id: str) -> dict[str, Visit]:
        raw = self.r.hgetall(f"{self.p}visit:{user_id}")
        return {k: Visit(*json.loads(v)) for k, v in raw.items()}

    def bandit_counts(self, segment: str) -> dict[str, dict[str, int]]:
        return _counts(self.r.hgetall(f"{self.p}stats:all:{segment}"))

    def user_view(self, user_id: str, limit: int, segment: str) -> UserView:
        """One round trip (a pipeline, no MULTI: three reads need no isolation from each
        other): on loopback the round trips, not Redis, were most of a /recommend's store
        time (bench/bench_serving.py)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.sismember(f"{self.p}suppressed", user_hash(user_id))
        pipe.lrange(f"{self.p}ev:{user_id}", -limit, -1)
        pipe.hgetall(f"{self.p}stats:all:{segment}")
        suppressed, rows, counts = pipe.execute()
        return UserView(bool(suppressed), [_event(r) for r in rows], _counts(counts))

    def counter_rows(self, granularity: str, since: float = 0.0) -> list[CounterRow]:
        rows = []
        if granularity == "all":
            for seg in sorted(self.r.smembers(f"{self.p}segments")):
                for field, value in self.r.hgetall(f"{self.p}stats:all:{seg}").items():
                    strategy, metric = field.rsplit("|", 1)
                    rows.append(CounterRow("all", 0, seg, strategy, metric, float(value)))
            return rows
        head = f"{self.p}stats:{granularity}:"
        for key in self.r.scan_iter(f"{head}*", count=1000):
            bucket = int(key[len(head) :])
            if bucket < since:
                continue
            for field, value in self.r.hgetall(key).items():
                seg, strategy, metric = field.rsplit("|", 2)
                rows.append(CounterRow(granularity, bucket, seg, strategy, metric, float(value)))
        return rows

    def iter_events(self) -> Iterator[Event]:
        for key in sorted(self.r.scan_iter(f"{self.p}ev:*", count=1000)):
            for row in self.r.lrange(key, 0, -1):
                yield _event(row)

    def iter_feedback(self) -> Iterator[Feedback]:
        for key in sorted(self.r.scan_iter(f"{self.p}fb:*", count=1000)):
            for row in self.r.lrange(key, 0, -1):
                d = json.loads(row)
                d.pop("received", None)
                yield Feedback(**d)

    def incr(self, counter: str, by: int = 1) -> None:
        self.r.hincrby(f"{self.p}counters", counter, by)

    def counters(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.r.hgetall(f"{self.p}counters").items()}

    def forget(self, user_id: str) -> int:
        ev, fb = f"{self.p}ev:{user_id}", f"{self.p}fb:{user_id}"
        pipe = self.r.pipeline(transaction=True)  # MULTI: no script runs in between
        pipe.llen(ev)
        pipe.llen(fb)
        pipe.delete(ev, fb, f"{self.p}visit:{user_id}", f"{self.p}applied:{user_id}")
        pipe.sadd(f"{self.p}suppressed", user_hash(user_id))
        n_ev, n_fb, *_ = pipe.execute()
        return int(n_ev) + int(n_fb)

    def suppress(self, user_ids: list[str]) -> None:
        if user_ids:
            self.r.sadd(f"{self.p}suppressed", *(user_hash(u) for u in user_ids))

    def is_suppressed(self, user_id: str) -> bool:
        return bool(self.r.sismember(f"{self.p}suppressed", user_hash(user_id)))

    def purge(self, now: float) -> int:
        return 0  # per-user lists are trimmed on write; idle keys and old buckets expire (TTL)

    def secret(self) -> bytes:
        self.r.set(f"{self.p}secret", secrets.token_hex(32), nx=True)
        return bytes.fromhex(self.r.get(f"{self.p}secret"))

    def close(self) -> None:
        self.r.close()


def _counts(fields: dict[str, str]) -> dict[str, dict[str, int]]:
    return bandit_counts_of((*f.rsplit("|", 1), v) for f, v in fields.items())


def _buckets(ts: float) -> tuple[int, int]:
    return bucket_of(ts, "hour"), bucket_of(ts, "day")


def _event(row: str) -> Event:
    d = json.loads(row)
    d.pop("received", None)
    return Event(**d)
