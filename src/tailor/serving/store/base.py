"""The profile store's one small interface: live events, feedback, counters, suppression.

Two backends implement it (SQLite, Redis) and pass the same test suite. The store never
keeps a forgotten user's id: the suppression set holds a salted hash only, while the
plain id goes to the suppression list file that the next training run reads.

State is bounded: each user keeps at most ``Retention.max_events`` events and feedback
records, none older than ``Retention.max_age_s`` (by the time the server received them);
the statistics are counters updated on write, per (segment, strategy, metric), in an
all-time bucket plus hourly and daily buckets that expire after ``hourly_days`` and
``daily_days``. Reading them is O(segments x strategies x metrics), whatever the traffic.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

FEEDBACK_EVENTS = ("impression", "click", "conversion")
# Counter metrics kept per (segment, strategy): feedback counts, dwell time of attributed
# views (sum and count), users shown a strategy first and those who came back.
METRICS = (*FEEDBACK_EVENTS, "dwell_sum", "views", "users", "returned")
GRANULARITIES = {"hour": 3_600, "day": 86_400}


def unavailable_errors() -> tuple[type[Exception], ...]:
    """Errors meaning the store cannot be reached now, not that the request is wrong: Redis
    down or past its socket timeout, SQLite locked or its disk failing."""
    import sqlite3

    import redis

    return (redis.ConnectionError, redis.TimeoutError, sqlite3.OperationalError)


def user_hash(user_id: str) -> str:
    """Stable, non-reversible stand-in for a user id (the store's suppression set)."""
    return hashlib.sha256(f"tailor:{user_id}".encode()).hexdigest()


def bucket_of(ts: float, granularity: str) -> int:
    """Start (epoch seconds, UTC) of the ``granularity`` bucket holding ``ts``."""
    size = GRANULARITIES[granularity]
    return int(ts // size) * size


@dataclass(frozen=True)
class Retention:
    """How much per-user history and counter history the store keeps."""

    max_events: int = 500
    max_age_s: float = 30 * 86_400
    hourly_days: float = 14
    daily_days: float = 400


@dataclass(frozen=True)
class Event:
    user_id: str
    ts: float
    event_type: str
    item_id: str | None = None
    session_id: str | None = None
    duration_s: float | None = None
    request_id: str | None = None
    known_item: bool = True
    event_id: str | None = None  # set by the event log: what makes applying it idempotent

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)  # flat fields: what asdict gives, without its deep copies


@dataclass(frozen=True)
class Feedback:
    user_id: str
    request_id: str
    strategy: str
    segment: str
    event: str
    ts: float


@dataclass(frozen=True)
class Incr:
    """Add ``value`` to ``metric`` of (segment, strategy) in the buckets holding ``at``."""

    segment: str
    strategy: str
    metric: str
    value: float
    at: float


@dataclass
class Visit:
    """A user's first impression from one (segment, strategy): for the repeat-visit rate."""

    t0: float  # time of the first impression
    returned: bool = False


@dataclass(frozen=True)
class CounterRow:
    granularity: str  # "all", "day" or "hour"
    bucket: int  # bucket start (epoch s); 0 for "all"
    segment: str
    strategy: str
    metric: str
    value: float


def visit_key(segment: str, strategy: str) -> str:
    return f"{segment}|{strategy}"


@dataclass(frozen=True)
class UserView:
    """What one /recommend reads from the store."""

    suppressed: bool
    events: list[Event]  # the newest ``limit``, oldest first
    counts: dict[str, dict[str, int]]  # the segment's bandit counts


def bandit_counts_of(rows: Iterable[tuple[str, str, float | str]]) -> dict[str, dict[str, int]]:
    """``{strategy: {impression, click, conversion}}`` from (strategy, metric, value) rows."""
    out: dict[str, dict[str, int]] = {}
    for strategy, metric, value in rows:
        if metric in FEEDBACK_EVENTS:
            out.setdefault(strategy, dict.fromkeys(FEEDBACK_EVENTS, 0))[metric] = int(float(value))
    return out


class ProfileStore(ABC):
    """Durable per-user live state; every write is acknowledged only once it is persisted."""

    retention: Retention

    @abstractmethod
    def add_event(
        self, event: Event, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> bool:
        """Append the event, apply the counter increments and the user's updated visits, and
        trim the user's history, in one atomic step that refuses (``False``) a suppressed
        user: no event of a forgotten user is stored once ``forget`` has returned."""

    @abstractmethod
    def recent_events(self, user_id: str, limit: int) -> list[Event]:
        """The user's newest ``limit`` events, oldest first."""

    @abstractmethod
    def add_feedback(
        self, feedback: Feedback, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> bool:
        """Log and count the feedback once per (request id, event); ``False`` for a replay or
        a suppressed user (nothing is changed then)."""

    @abstractmethod
    def visits(self, user_id: str) -> dict[str, Visit]:
        """The user's first impressions by ``visit_key(segment, strategy)``."""

    @abstractmethod
    def bandit_counts(self, segment: str) -> dict[str, dict[str, int]]:
        """``{strategy: {impression, click, conversion}}`` for one segment, all time."""

    def user_view(self, user_id: str, limit: int, segment: str) -> UserView:
        """Suppression, newest events and the segment's bandit counts together: a remote
        store answers them in one round trip (the hot path of /recommend)."""
        return UserView(
            self.is_suppressed(user_id),
            self.recent_events(user_id, limit),
            self.bandit_counts(segment),
        )

    @abstractmethod
    def counter_rows(self, granularity: str, since: float = 0.0) -> list[CounterRow]:
        """Counter rows of one granularity with bucket start >= ``since``."""

    @abstractmethod
    def iter_events(self) -> Iterator[Event]:
        """Every stored event (tests and exports; not used by request paths)."""

    @abstractmethod
    def iter_feedback(self) -> Iterator[Feedback]:
        """Every stored feedback record (tests and exports; not used by request paths)."""

    @abstractmethod
    def incr(self, counter: str, by: int = 1) -> None:
        """Add to a named service counter (e.g. unknown item ids seen in events)."""

    @abstractmethod
    def counters(self) -> dict[str, int]: ...

    @abstractmethod
    def forget(self, user_id: str) -> int:
        """Delete the user's events, feedback and visits and mark the hash suppressed, in one
        atomic step; returns the records removed."""

    @abstractmethod
    def suppress(self, user_ids: list[str]) -> None:
        """Mark users suppressed without a forget (the suppression list read at start)."""

    @abstractmethod
    def is_suppressed(self, user_id: str) -> bool: ...

    @abstractmethod
    def purge(self, now: float) -> int:
        """Drop everything older than the retention allows (all users); records removed."""

    @abstractmethod
    def secret(self) -> bytes:
        """The server secret that signs request ids: created once, shared by every worker."""

    @abstractmethod
    def close(self) -> None: ...
