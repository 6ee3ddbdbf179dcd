"""`make consumer`: the event log's ``profiles`` group, applying entries to live profiles.

    python -m tailor.serving.consumer [--name NAME] [--batch 500] [--claim-idle-ms 10000]

Reads the stream in batches (XREADGROUP), reads the batch's users' newest event and visits
(one script), computes each entry's counter increments as the synchronous path does, and
applies the batch with ``RedisStore.apply_batch`` (one script, idempotent by event id) and
acknowledges it in the same round trip. A redelivered entry changes nothing; entries a
crashed consumer took are claimed after ``--claim-idle-ms`` (XAUTOCLAIM), and on start this
consumer first finishes its own pending ones. Run one or more (each with its own
``--name``) beside the service; they share the work through the consumer group. Settings
as the service: ``TAILOR_REDIS_URL``, ``TAILOR_REDIS_PREFIX``, ``BENTOML_HOME`` (the
packaged models give the serving parameters and the segments request ids refer to).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import time

from tailor.serving import stats
from tailor.serving.engine import Engine
from tailor.serving.request_ids import NotFound
from tailor.serving.store.base import Event, Feedback
from tailor.serving.store.redis_store import RedisStore
from tailor.serving.stream import PROFILES, Entry, EventLog

log = logging.getLogger("tailor.consumer")


class Applier:
    """Applies batches of entries to the live profiles (the work of one consumer)."""

    def __init__(self, engine: Engine, log_: EventLog) -> None:
        if not isinstance(engine.store, RedisStore):
            raise RuntimeError("the event log consumer needs the Redis store (TAILOR_REDIS_URL)")
        self.engine, self.store, self.log = engine, engine.store, log_

    def _key(self, request_id: str | None, user_id: str) -> tuple[str, str] | None:
        """(segment, strategy) of a request id issued for this user; None when unsigned or
        forged (a producer appending directly is not trusted with attribution)."""
        if request_id is None:
            return None
        try:
            return self.engine.verify(request_id, user_id)
        except NotFound:
            return None

    def apply(self, entries: list[Entry]) -> dict[str, int]:
        """Apply and acknowledge ``entries`` (in stream order); counts by outcome."""
        if not entries:
            return {}
        state = self.store.live_state(sorted({e.record.user_id for e in entries}))
        prev = {u: last for u, (last, _) in state.items()}
        visits = {u: v for u, (_, v) in state.items()}
        params = self.engine.p
        items = []
        for e in entries:
            u, rec = e.record.user_id, e.record
            if isinstance(rec, Event):
                p = prev[u]
                incrs, changed = stats.event_increments(
                    rec,
                    self._key(rec.request_id, u),
                    p,
                    self._key(p.request_id, u) if p else None,
                    visits[u],
                    params,
                    e.received,
                )
                prev[u] = rec
            else:
                assert isinstance(rec, Feedback)
                key = (rec.segment, rec.strategy)
                incrs, changed = stats.feedback_increments(key, rec.event, visits[u], rec.ts)
            if changed:
                visits[u] = {**visits[u], **changed}
            items.append((e.event_id, rec, incrs, changed, e.received))
        pipe = self.store.r.pipeline(transaction=False)
        self.store.apply_batch(items, client=pipe)
        self.log.ack(PROFILES, [e.entry_id for e in entries], client=pipe)
        self.log.count_applied(len(entries), time.time(), client=pipe)
        results = pipe.execute()[0]
        out = {"applied": 0, "redelivered": 0, "suppressed": 0}
        for r in results:
            out[{1: "applied", 2: "redelivered"}.get(int(r), "suppressed")] += 1
        return out


class Consumer:
    """The loop: own pending entries first, then reclaimed and new ones, until stopped."""

    def __init__(
        self,
        applier: Applier,
        name: str,
        batch: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 10_000,
    ) -> None:
        self.applier, self.log, self.name = applier, applier.log, name
        self.batch, self.block_ms, self.claim_idle_ms = batch, block_ms, claim_idle_ms
        self.stopped = False

    def step(self, new: bool = True) -> int:
        entries = self.log.read(PROFILES, self.name, self.batch, self.block_ms, new=new)
        self.applier.apply(entries)
        return len(entries)

    def run(self) -> None:
        while not self.stopped and self.step(new=False):  # what this name held before
            pass
        last_claim = 0.0
        while not self.stopped:
            if time.monotonic() - last_claim > self.claim_idle_ms / 2000:
                last_claim = time.monotonic()
                claimed = self.log.claim(PROFILES, self.name, self.claim_idle_ms, self.batch)
                if claimed:
                    log.warning("claimed %d entries left pending by a consumer", len(claimed))
                    self.applier.apply(claimed)
                    continue
            self.step()


def build_engine() -> Engine:
    """The engine over the packaged models (for the serving parameters and segments)."""
    from pathlib import Path

    import bentoml

    from tailor.serving import artefacts
    from tailor.serving.engine import retention_of
    from tailor.serving.store import open_store
    from tailor.serving.suppression import SuppressionList

    paths = [
        Path(bentoml.models.get(f"{name}:latest").path)
        for name in (
            artefacts.RECOMMENDER,
            artefacts.CATALOG,
            artefacts.PROFILES,
            artefacts.NEXT_PURCHASE,
        )
    ]
    data = artefacts.load(*paths)
    secret = os.environ.get("TAILOR_REQUEST_SECRET")
    store = open_store(retention=retention_of(data.params))
    return Engine(data, store, SuppressionList(), secret=secret.encode() if secret else None)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--claim-idle-ms", type=int, default=10_000)
    args = parser.parse_args(argv)
    engine = build_engine()
    assert isinstance(engine.store, RedisStore), "set TAILOR_REDIS_URL"
    log_ = EventLog(engine.store.r, engine.store.p)
    consumer = Consumer(Applier(engine, log_), args.name, args.batch, 1000, args.claim_idle_ms)

    def stop(*_: object) -> None:
        consumer.stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("consumer %s reading %s", args.name, log_.key)
    consumer.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
