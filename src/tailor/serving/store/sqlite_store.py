"""Embedded SQLite profile store: WAL + ``synchronous=FULL``, so an acknowledged event
survives a ``kill -9`` of the server (and a power cut, as far as fsync is honest).

Writes take ``BEGIN IMMEDIATE``: one writer at a time across every worker process, so the
suppression check and the insert of an event are one step (a forget cannot slip between).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from tailor.serving.store.base import (
    FEEDBACK_EVENTS,
    GRANULARITIES,
    CounterRow,
    Event,
    Feedback,
    Incr,
    ProfileStore,
    Retention,
    Visit,
    bandit_counts_of,
    bucket_of,
    user_hash,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, ts REAL NOT NULL, event_type TEXT NOT NULL, item_id TEXT,
    session_id TEXT, duration_s REAL, request_id TEXT, known_item INTEGER NOT NULL,
    received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, request_id TEXT NOT NULL, strategy TEXT NOT NULL,
    segment TEXT NOT NULL, event TEXT NOT NULL, ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id, id);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback (ts);
CREATE TABLE IF NOT EXISTS seen (
    request_id TEXT NOT NULL, event TEXT NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (request_id, event)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_ts ON seen (ts);
CREATE TABLE IF NOT EXISTS stats (
    granularity TEXT NOT NULL, bucket INTEGER NOT NULL, segment TEXT NOT NULL,
    strategy TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (granularity, bucket, segment, strategy, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visits (
    user_id TEXT NOT NULL, key TEXT NOT NULL, t0 REAL NOT NULL, returned INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppressed (user_hash TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
EVENT_COLS = "user_id, ts, event_type, item_id, session_id, duration_s, request_id, known_item"
UPSERT_STAT = (
    "INSERT INTO stats VALUES (?,?,?,?,?,?) ON CONFLICT(granularity, bucket, segment, strategy, "
    "metric) DO UPDATE SET value = value + excluded.value"
)


def _event(row: tuple) -> Event:
    return Event(*row[:7], known_item=bool(row[7]))


class SQLiteStore(ProfileStore):
    """One connection per thread (sqlite3 objects are not shared across threads)."""

    def __init__(self, path: str | Path, retention: Retention | None = None) -> None:
        self.path = Path(path)
        self.retention = retention or Retention()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        con = self._con()
        with con:
            con.executescript(SCHEMA)
            cols = {r[1] for r in con.execute("PRAGMA table_info(events)")}
            if "received" not in cols:  # a store written before retention existed
                con.execute("ALTER TABLE events ADD COLUMN received REAL NOT NULL DEFAULT 0")
            con.execute("CREATE INDEX IF NOT EXISTS events_received ON events (received)")

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("PRAGMA secure_delete=ON")  # forgotten users leave no bytes behind
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    def _begin(self) -> sqlite3.Connection:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        return con

    def _suppressed(self, con: sqlite3.Connection, user_id: str) -> bool:
        sql = "SELECT 1 FROM suppressed WHERE user_hash=?"
        return con.execute(sql, (user_hash(user_id),)).fetchone() is not None

    def _apply(
        self, con: sqlite3.Connection, user_id: str, incrs: list[Incr], visits: dict[str, Visit]
    ) -> None:
        for inc in incrs:
            key = (inc.segment, inc.strategy, inc.metric, inc.value)
            con.execute(UPSERT_STAT, ("all", 0, *key))
            for gran in GRANULARITIES:
                con.execute(UPSERT_STAT, (gran, bucket_of(inc.at, gran), *key))
        for key, v in visits.items():
            con.execute(
                "INSERT OR REPLACE INTO visits VALUES (?,?,?,?)",
                (user_id, key, v.t0, int(v.returned)),
            )

    def add_event(
        self, event: Event, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> bool:
        con = self._begin()
        try:
            if self._suppressed(con, event.user_id):
                con.execute("ROLLBACK")
                return False
            con.execute(
                f"INSERT INTO events ({EVENT_COLS}, received) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    event.user_id,
                    event.ts,
                    event.event_type,
                    event.item_id,
                    event.session_id,
                    event.duration_s,
                    event.request_id,
                    int(event.known_item),
                    now,
                ),
            )
            r = self.retention
            con.execute(
                "DELETE FROM events WHERE user_id=? AND (received < ? OR id <= (SELECT id FROM "
                "events WHERE user_id=? ORDER BY id DESC LIMIT 1 OFFSET ?))",
                (event.user_id, now - r.max_age_s, event.user_id, r.max_events),
            )
            self._apply(con, event.user_id, incrs, visits)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return True

    def recent_events(self, user_id: str, limit: int) -> list[Event]:
        rows = (
            self._con()
            .execute(
                f"SELECT {EVENT_COLS} FROM events WHERE user_id=? ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            )
            .fetchall()
        )
        return [_event(r) for r in reversed(rows)]

    def add_feedback(
        self, feedback: Feedback, incrs: list[Incr], visits: dict[str, Visit], now: float
    ) -> bool:
        f = feedback
        con = self._begin()
        try:
            first = con.execute(
                "INSERT OR IGNORE INTO seen VALUES (?,?,?)", (f.request_id, f.event, now)
            ).rowcount
            if not first or self._suppressed(con, f.user_id):
                con.execute("ROLLBACK")
                return False
            con.execute(
                "INSERT INTO feedback (user_id, request_id, strategy, segment, event, ts) "
                "VALUES (?,?,?,?,?,?)",
                (f.user_id, f.request_id, f.strategy, f.segment, f.event, f.ts),
            )
            r = self.retention
            con.execute(
                "DELETE FROM feedback WHERE user_id=? AND (ts < ? OR id <= (SELECT id FROM "
                "feedback WHERE user_id=? ORDER BY id DESC LIMIT 1 OFFSET ?))",
                (f.user_id, now - r.max_age_s, f.user_id, r.max_events),
            )
            self._apply(con, f.user_id, incrs, visits)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return True

    def visits(self, user_id: str) -> dict[str, Visit]:
        rows = self._con().execute(
            "SELECT key, t0, returned FROM visits WHERE user_id=?", (user_id,)
        )
        return {k: Visit(t0, bool(ret)) for k, t0, ret in rows}

    def bandit_counts(self, segment: str) -> dict[str, dict[str, int]]:
        rows = self._con().execute(
            "SELECT strategy, metric, value FROM stats WHERE granularity='all' AND bucket=0 "
            "AND segment=? AND metric IN (?,?,?)",
            (segment, *FEEDBACK_EVENTS),
        )
        return bandit_counts_of(rows)

    def counter_rows(self, granularity: str, since: float = 0.0) -> list[CounterRow]:
        rows = self._con().execute(
            "SELECT granularity, bucket, segment, strategy, metric, value FROM stats "
            "WHERE granularity=? AND bucket>=?",
            (granularity, since),
        )
        return [CounterRow(*r) for r in rows]

    def iter_events(self) -> Iterator[Event]:
        cur = self._con().execute(f"SELECT {EVENT_COLS} FROM events ORDER BY id")
        for row in cur:
            yield _event(row)

    def iter_feedback(self) -> Iterator[Feedback]:
        cur = self._con().execute(
            "SELECT user_id, request_id, strategy, segment, event, ts FROM feedback ORDER BY id"
        )
        for row in cur:
            yield Feedback(*row)

    def incr(self, counter: str, by: int = 1) -> None:
        con = self._begin()
        con.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (counter, by),
        )
        con.execute("COMMIT")

    def counters(self) -> dict[str, int]:
        return dict(self._con().execute("SELECT name, value FROM counters").fetchall())

    def forget(self, user_id: str) -> int:
        con = self._begin()
        try:
            n = con.execute("DELETE FROM events WHERE user_id=?", (user_id,)).rowcount
            n += con.execute("DELETE FROM feedback WHERE user_id=?", (user_id,)).rowcount
            con.execute("DELETE FROM visits WHERE user_id=?", (user_id,))
            con.execute("INSERT OR IGNORE INTO suppressed VALUES (?)", (user_hash(user_id),))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        # secure_delete zeroed the freed pages; the checkpoint drops old copies from the WAL.
        self._con().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    def suppress(self, user_ids: list[str]) -> None:
        con = self._begin()
        con.executemany(
            "INSERT OR IGNORE INTO suppressed VALUES (?)", [(user_hash(u),) for u in user_ids]
        )
        con.execute("COMMIT")

    def is_suppressed(self, user_id: str) -> bool:
        return self._suppressed(self._con(), user_id)

    def purge(self, now: float) -> int:
        r = self.retention
        old = now - r.max_age_s
        con = self._begin()
        try:
            n = con.execute("DELETE FROM events WHERE received < ?", (old,)).rowcount
            n += con.execute("DELETE FROM feedback WHERE ts < ?", (old,)).rowcount
            n += con.execute("DELETE FROM seen WHERE ts < ?", (old,)).rowcount
            n += con.execute("DELETE FROM visits WHERE t0 < ?", (old,)).rowcount
            for gran, days in (("hour", r.hourly_days), ("day", r.daily_days)):
                n += con.execute(
                    "DELETE FROM stats WHERE granularity=? AND bucket < ?",
                    (gran, now - days * 86_400),
                ).rowcount
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return n

    def secret(self) -> bytes:
        con = self._begin()
        con.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))
        con.execute("COMMIT")
        row = con.execute("SELECT value FROM meta WHERE name='secret'").fetchone()
        return bytes.fromhex(row[0])

    def close(self) -> None:
        with self._lock:
            for con in self._conns:
                con.close()
            self._conns.clear()
        self._local = threading.local()
