"""Embedded SQLite profile store: WAL + ``synchronous=FULL``, so an acknowledged event
survives a ``kill -9`` of the server (and a power cut, as far as fsync is honest)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from tailor.serving.store.base import FEEDBACK_EVENTS, Event, Feedback, ProfileStore, user_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, ts REAL NOT NULL, event_type TEXT NOT NULL, item_id TEXT,
    session_id TEXT, duration_s REAL, request_id TEXT, known_item INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, request_id TEXT NOT NULL, strategy TEXT NOT NULL,
    segment TEXT NOT NULL, event TEXT NOT NULL, ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id);
CREATE TABLE IF NOT EXISTS bandit (
    segment TEXT NOT NULL, strategy TEXT NOT NULL,
    impression INTEGER NOT NULL DEFAULT 0, click INTEGER NOT NULL DEFAULT 0,
    conversion INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (segment, strategy)
);
CREATE TABLE IF NOT EXISTS suppressed (user_hash TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
EVENT_COLS = "user_id, ts, event_type, item_id, session_id, duration_s, request_id, known_item"


def _event(row: tuple) -> Event:
    return Event(*row[:7], known_item=bool(row[7]))


class SQLiteStore(ProfileStore):
    """One connection per thread (sqlite3 objects are not shared across threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        con = self._con()
        with con:
            con.executescript(SCHEMA)

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

    def _tx(self, *statements: tuple[str, tuple]) -> int:
        """Run statements in one transaction; returns the rows they changed."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            changed = sum(con.execute(sql, args).rowcount for sql, args in statements)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return changed

    def add_event(self, event: Event) -> None:
        self._tx(
            (
                f"INSERT INTO events ({EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    event.user_id,
                    event.ts,
                    event.event_type,
                    event.item_id,
                    event.session_id,
                    event.duration_s,
                    event.request_id,
                    int(event.known_item),
                ),
            ),
        )

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

    def add_feedback(self, feedback: Feedback) -> None:
        f = feedback
        self._tx(
            (
                "INSERT INTO feedback (user_id, request_id, strategy, segment, event, ts) "
                "VALUES (?,?,?,?,?,?)",
                (f.user_id, f.request_id, f.strategy, f.segment, f.event, f.ts),
            ),
            (
                "INSERT OR IGNORE INTO bandit (segment, strategy) VALUES (?,?)",
                (f.segment, f.strategy),
            ),
            (
                f"UPDATE bandit SET {f.event} = {f.event} + 1 WHERE segment=? AND strategy=?",
                (f.segment, f.strategy),
            ),
        )

    def bandit_counts(self, segment: str) -> dict[str, dict[str, int]]:
        rows = (
            self._con()
            .execute(
                "SELECT strategy, impression, click, conversion FROM bandit WHERE segment=?",
                (segment,),
            )
            .fetchall()
        )
        return {r[0]: dict(zip(FEEDBACK_EVENTS, r[1:], strict=True)) for r in rows}

    def all_bandit_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        rows = (
            self._con()
            .execute("SELECT segment, strategy, impression, click, conversion FROM bandit")
            .fetchall()
        )
        return {(r[0], r[1]): dict(zip(FEEDBACK_EVENTS, r[2:], strict=True)) for r in rows}

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
        self._tx(
            (
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (counter, by),
            ),
        )

    def counters(self) -> dict[str, int]:
        return dict(self._con().execute("SELECT name, value FROM counters").fetchall())

    def forget(self, user_id: str) -> int:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            n = con.execute("DELETE FROM events WHERE user_id=?", (user_id,)).rowcount
            n += con.execute("DELETE FROM feedback WHERE user_id=?", (user_id,)).rowcount
            con.execute("INSERT OR IGNORE INTO suppressed VALUES (?)", (user_hash(user_id),))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        # secure_delete zeroed the freed pages; the checkpoint drops old copies from the WAL.
        self._con().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    def is_suppressed(self, user_id: str) -> bool:
        row = (
            self._con()
            .execute("SELECT 1 FROM suppressed WHERE user_hash=?", (user_hash(user_id),))
            .fetchone()
        )
        return row is not None

    def close(self) -> None:
        with self._lock:
            for con in self._conns:
                con.close()
            self._conns.clear()
        self._local = threading.local()
