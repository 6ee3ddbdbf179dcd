"""Redis profile store (``TAILOR_REDIS_URL``): the same interface as the SQLite store.

Durability is the Redis server's: run it with ``appendonly yes`` and ``appendfsync always``
for the same guarantee as SQLite (see docs/serving.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import redis

from tailor.serving.store.base import FEEDBACK_EVENTS, Event, Feedback, ProfileStore, user_hash


class RedisStore(ProfileStore):
    """Keys: ``{p}ev:{user}`` and ``{p}fb:{user}`` lists, ``{p}users`` set, ``{p}bandit:{seg}``
    hashes, ``{p}bandit_segments`` set, ``{p}suppressed`` set of hashes, ``{p}counters`` hash."""

    def __init__(self, url: str, prefix: str = "tailor:") -> None:
        self.r = redis.Redis.from_url(url, decode_responses=True)
        self.p = prefix
        self.r.ping()

    def add_event(self, event: Event) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.rpush(f"{self.p}ev:{event.user_id}", json.dumps(event.to_dict()))
        pipe.sadd(f"{self.p}users", event.user_id)
        pipe.execute()

    def recent_events(self, user_id: str, limit: int) -> list[Event]:
        rows = self.r.lrange(f"{self.p}ev:{user_id}", -limit, -1)
        return [Event(**json.loads(r)) for r in rows]

    def add_feedback(self, feedback: Feedback) -> None:
        f = feedback
        pipe = self.r.pipeline(transaction=True)
        pipe.rpush(f"{self.p}fb:{f.user_id}", json.dumps(f.__dict__))
        pipe.sadd(f"{self.p}users", f.user_id)
        pipe.sadd(f"{self.p}bandit_segments", f.segment)
        pipe.hincrby(f"{self.p}bandit:{f.segment}", f"{f.strategy}|{f.event}", 1)
        pipe.execute()

    def bandit_counts(self, segment: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for field, value in self.r.hgetall(f"{self.p}bandit:{segment}").items():
            strategy, event = field.split("|")
            out.setdefault(strategy, dict.fromkeys(FEEDBACK_EVENTS, 0))[event] = int(value)
        return out

    def all_bandit_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        return {
            (seg, strategy): counts
            for seg in sorted(self.r.smembers(f"{self.p}bandit_segments"))
            for strategy, counts in self.bandit_counts(seg).items()
        }

    def _users(self) -> list[str]:
        return sorted(self.r.smembers(f"{self.p}users"))

    def iter_events(self) -> Iterator[Event]:
        for user in self._users():
            for row in self.r.lrange(f"{self.p}ev:{user}", 0, -1):
                yield Event(**json.loads(row))

    def iter_feedback(self) -> Iterator[Feedback]:
        for user in self._users():
            for row in self.r.lrange(f"{self.p}fb:{user}", 0, -1):
                yield Feedback(**json.loads(row))

    def incr(self, counter: str, by: int = 1) -> None:
        self.r.hincrby(f"{self.p}counters", counter, by)

    def counters(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.r.hgetall(f"{self.p}counters").items()}

    def forget(self, user_id: str) -> int:
        ev, fb = f"{self.p}ev:{user_id}", f"{self.p}fb:{user_id}"
        pipe = self.r.pipeline(transaction=True)
        pipe.llen(ev)
        pipe.llen(fb)
        pipe.delete(ev, fb)
        pipe.srem(f"{self.p}users", user_id)
        pipe.sadd(f"{self.p}suppressed", user_hash(user_id))
        n_ev, n_fb, *_ = pipe.execute()
        return int(n_ev) + int(n_fb)

    def is_suppressed(self, user_id: str) -> bool:
        return bool(self.r.sismember(f"{self.p}suppressed", user_hash(user_id)))

    def close(self) -> None:
        self.r.close()
