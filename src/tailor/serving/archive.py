"""`make archive`: the event log's ``archive`` group, writing Parquet segments to the lake.

    python -m tailor.serving.archive [--once] [--dir data/01_raw/live] [--flush-s 60]

Entries are written as ``<dir>/events/<day>/<first id>_<last id>.parquet`` and
``<dir>/feedback/<day>/…`` (day of the time the log received them, UTC), each file written
under a temporary name, fsynced and renamed; only then are the entries acknowledged, and
only acknowledged entries are ever trimmed from the stream (``EventLog.trim``). A crash
between the write and the acknowledgement writes the entries again in a later segment:
readers drop repeated ``event_id``s (``tailor.live_events``). Entries of users suppressed
in the store (forgotten) are not written. ``--once`` drains what is there and exits (cron,
tests); otherwise it runs until stopped, writing a segment every ``--flush-s`` seconds or
``--batch`` entries. The Kedro catalog reads the segments as ``raw_live_events`` and
``raw_live_feedback``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tailor.serving.store.base import Event, user_hash
from tailor.serving.stream import ARCHIVE, Entry, EventLog

log = logging.getLogger("tailor.archive")
DEFAULT_DIR = "data/01_raw/live"

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("event_type", pa.string()),
        ("item_id", pa.string()),
        ("duration_s", pa.float64()),
        ("request_id", pa.string()),
        ("received", pa.timestamp("us", tz="UTC")),
    ]
)
FEEDBACK_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("request_id", pa.string()),
        ("strategy", pa.string()),
        ("segment", pa.string()),
        ("event", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
    ]
)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _row(e: Entry) -> dict[str, object]:
    r = e.record
    if isinstance(r, Event):
        return {
            "event_id": e.event_id,
            "user_id": r.user_id,
            "session_id": r.session_id,
            "ts": _utc(r.ts),
            "event_type": r.event_type,
            "item_id": r.item_id,
            "duration_s": r.duration_s,
            "request_id": r.request_id,
            "received": _utc(e.received),
        }
    return {
        "event_id": e.event_id,
        "user_id": r.user_id,
        "request_id": r.request_id,
        "strategy": r.strategy,
        "segment": r.segment,
        "event": r.event,
        "ts": _utc(r.ts),
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_segment(root: Path, kind: str, entries: list[Entry]) -> Path:
    """One durable Parquet file of ``entries`` (one kind, one day)."""
    day = _utc(entries[0].received).strftime("%Y-%m-%d")
    folder = root / ("events" if kind == "event" else "feedback") / day
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{entries[0].entry_id}_{entries[-1].entry_id}.parquet"
    schema = EVENT_SCHEMA if kind == "event" else FEEDBACK_SCHEMA
    table = pa.Table.from_pylist([_row(e) for e in entries], schema=schema)
    tmp = folder / f".{name}.tmp"  # dot files are skipped by Parquet dataset readers
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(folder / name)
    _fsync_dir(folder)
    return folder / name


class Archiver:
    """Drains the ``archive`` group into segments, acknowledges, then trims the stream."""

    def __init__(self, log_: EventLog, root: Path, name: str, batch: int = 5000) -> None:
        self.log, self.root, self.name, self.batch = log_, root, name, batch

    def _suppressed(self, users: list[str]) -> set[str]:
        pipe = self.log.r.pipeline(transaction=False)
        for u in users:
            pipe.sismember(f"{self.log.p}suppressed", user_hash(u))
        return {u for u, hit in zip(users, pipe.execute(), strict=True) if hit}

    def write(self, entries: list[Entry]) -> list[Path]:
        """Write, acknowledge and trim; the segment files written."""
        if not entries:
            return []
        gone = self._suppressed(sorted({e.record.user_id for e in entries}))
        groups: dict[tuple[str, str], list[Entry]] = {}
        for e in entries:
            if e.record.user_id not in gone:
                day = _utc(e.received).strftime("%Y-%m-%d")
                groups.setdefault((e.kind, day), []).append(e)
        paths = [write_segment(self.root, kind, group) for (kind, _), group in groups.items()]
        self.log.ack(ARCHIVE, [e.entry_id for e in entries])
        self.log.trim(time.time())
        return paths

    def drain(self, claim_idle_ms: int = 10_000) -> int:
        """Everything there now: own pending, reclaimed and new entries; entries archived."""
        n = 0
        for source in ("own", "claimed", "new"):
            while True:
                if source == "claimed":
                    got = self.log.claim(ARCHIVE, self.name, claim_idle_ms, self.batch)
                else:
                    got = self.log.read(ARCHIVE, self.name, self.batch, None, new=source == "new")
                if not got:
                    break
                self.write(got)
                n += len(got)
        return n

    def run(self, flush_s: float, stop: list[bool]) -> None:
        self.drain()
        buffer: list[Entry] = []
        since = time.monotonic()
        while not stop:
            got = self.log.read(ARCHIVE, self.name, self.batch, 1000)
            buffer += got
            if buffer and (len(buffer) >= self.batch or time.monotonic() - since >= flush_s):
                self.write(buffer)
                buffer, since = [], time.monotonic()
            elif not buffer:
                since = time.monotonic()
        self.write(buffer)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=os.environ.get("TAILOR_ARCHIVE_DIR", DEFAULT_DIR))
    parser.add_argument("--once", action="store_true", help="drain what is there, then exit")
    parser.add_argument("--flush-s", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--claim-idle-ms", type=int, default=10_000)
    parser.add_argument("--name", default=f"archive-{socket.gethostname()}")
    args = parser.parse_args(argv)
    from tailor.serving.store import open_store
    from tailor.serving.store.redis_store import RedisStore

    store = open_store()
    if not isinstance(store, RedisStore):
        parser.error("the archive reads the event log: set TAILOR_REDIS_URL")
    log_ = EventLog(store.r, store.p, keep_s=float(os.environ.get("TAILOR_STREAM_KEEP_S", 3600)))
    archiver = Archiver(log_, Path(args.dir), args.name, args.batch)
    if args.once:
        log.info("archived %d entries to %s", archiver.drain(args.claim_idle_ms), args.dir)
        return 0
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    archiver.run(args.flush_s, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
