"""The event log (Redis Streams): events/s from a producer to applied live profiles, HTTP
``POST /events`` beside it, and the time from append to visible in ``/recommend``.

Needs packaged models (``make package``, or ``BENTOML_HOME`` of another packaged run),
``redis-server`` and ``wrk``. Starts its own redis-server (append-only, fsync always) on a
free port. All load comes from other processes on loopback:

1. **Producer -> applied profiles**: a producer process appends ``--events`` view events
   for 5,000 users in pipelined batches (``EventLog.append_events``) while 1 or 2 consumer
   processes (``tailor.serving.consumer``) apply them; the figure is events / (last applied
   - first appended). Baseline, same run: today's synchronous write path
   (``Engine.add_event`` with the log off: read, compute, one Lua script per event) from one
   process.
2. **HTTP /events**: ``wrk`` at 32 connections against ``bentoml serve`` (2 workers) with the
   log on (consumers running) and with it off (the direct Redis write), interleaved rounds.
3. **Latency at 1,000 events/s**: a producer paces 1,000 events/s in batches of 10 while a
   prober appends one view for a brand-new visitor every 50 ms and polls ``/recommend``
   until its live profile shows it (the answer switches to the ``content`` strategy).

    .venv/bin/python bench/bench_stream.py [--events 150000 --seconds 10 --rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bench_serving import free_port, server, wrk  # noqa: E402
from bench.results import markdown_table, write_section  # noqa: E402

LUA = """
local n = 0
request = function()
  n = n + 1
  local body = '{"user_id":"h' .. (n %% 5000) .. '","event_type":"view","item_id":"%s"}'
  return wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, body)
end
"""


def produce(url: str, prefix: str, n: int, batch: int, rate: float, items: list[str]) -> None:
    """The producer process: ``n`` view events in batches, paced at ``rate``/s (0 = flat out);
    prints its first and last append times as JSON."""
    from tailor.serving.store.base import Event
    from tailor.serving.stream import EventLog, new_event_id

    log = EventLog(redis.Redis.from_url(url, decode_responses=True), prefix)
    start = time.time()
    sent = 0
    while sent < n:
        now = time.time()
        events = [
            (
                Event(f"u{(sent + i) % 5000}", now, "view", items[(sent + i) % len(items)]),
                new_event_id(),
            )
            for i in range(min(batch, n - sent))
        ]
        log.append_events(events, now)
        sent += len(events)
        if rate:
            ahead = start + sent / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
    print(json.dumps({"start": start, "end": time.time(), "sent": sent}), flush=True)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "always"]
    proc = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        with contextlib.suppress(redis.ConnectionError):
            if client.ping():
                break
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def consumers(env: dict[str, str], k: int) -> Iterator[None]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tailor.serving.consumer", "--name", f"bench-{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(k)
    ]
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        psutil.wait_procs([psutil.Process(p.pid) for p in procs if p.poll() is None], timeout=20)


def applied(r: redis.Redis, prefix: str) -> int:
    return int(r.hget(f"{prefix}counters", "stream_applied") or 0)


def wait_started(r: redis.Redis, prefix: str, k: int) -> None:
    """Until k consumers have joined the profiles group."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.ResponseError):
            joined = r.xinfo_consumers(f"{prefix}stream", "profiles")
            if len(joined) >= k:
                return
        time.sleep(0.3)
    raise RuntimeError("consumers did not start")


def pipeline_run(env: dict[str, str], url: str, k: int, n: int, items: list[str]) -> dict:
    """Producer -> applied with k consumers on a fresh prefix."""
    prefix = f"b{uuid.uuid4().hex[:6]}:"
    env = {**env, "TAILOR_REDIS_PREFIX": prefix}
    r = redis.Redis.from_url(url, decode_responses=True)
    with consumers(env, k):
        wait_started(r, prefix, k)
        out = subprocess.run(
            [sys.executable, __file__, "--produce", str(n), "--url", url, "--prefix", prefix],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        times = json.loads(out.stdout.strip().splitlines()[-1])
        while applied(r, prefix) < n:
            time.sleep(0.01)
        done = time.time()
    wall = done - times["start"]
    return {
        "path": f"producer -> stream -> {k} consumer(s) -> profiles",
        "events": n,
        "appended/s": round(n / (times["end"] - times["start"])),
        "applied/s": round(n / wall),
        "seconds": round(wall, 1),
    }


def direct_baseline(env: dict[str, str], n: int, items: list[str]) -> dict:
    """Today's write path (the log off): Engine.add_event per event, one process."""
    os.environ.update(env)
    os.environ["TAILOR_REDIS_PREFIX"] = f"d{uuid.uuid4().hex[:6]}:"
    from tailor.serving.consumer import build_engine
    from tailor.serving.schemas import EventRequest

    engine = build_engine()
    reqs = [
        EventRequest(user_id=f"u{i % 5000}", event_type="view", item_id=items[i % len(items)])
        for i in range(n)
    ]
    t = time.perf_counter()
    for req in reqs:
        engine.add_event(req)
    wall = time.perf_counter() - t
    return {
        "path": "baseline: synchronous store write per event (log off), 1 process",
        "events": n,
        "appended/s": "",
        "applied/s": round(n / wall),
        "seconds": round(wall, 1),
    }


def latency_run(env: dict[str, str], url: str, items: list[str], seconds: float) -> dict:
    """p50/p99 append -> visible in /recommend at 1,000 events/s of background load."""
    from tailor.serving.store.base import Event
    from tailor.serving.stream import EventLog, new_event_id

    prefix = f"l{uuid.uuid4().hex[:6]}:"
    env = {**env, "TAILOR_REDIS_PREFIX": prefix, "TAILOR_STREAM": "1"}
    n = int(1000 * seconds)
    r = redis.Redis.from_url(url, decode_responses=True)
    log = EventLog(r, prefix)
    cmd = ["bentoml", "serve", "tailor.serving.service:Tailor", "--host", "127.0.0.1"]
    cmd += ["--port", "{port}"]
    lat: list[float] = []
    with (
        server([str(Path(sys.executable).with_name(cmd[0])), *cmd[1:]], env, "probe") as http,
        consumers(env, 1),
    ):
        wait_started(r, prefix, 1)
        pace = ["--prefix", prefix, "--rate", "1000", "--batch", "10"]
        producer = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--produce",
                str(n),
                "--url",
                url,
                "--prefix",
                prefix,
                *pace,
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        session = requests.Session()
        while producer.poll() is None:
            user = f"probe-{uuid.uuid4().hex[:10]}"
            now = time.time()
            t0 = time.perf_counter()
            log.append_event(Event(user, now, "view", items[0]), new_event_id(), now)
            t_ack = time.perf_counter()
            while True:
                got = session.post(f"{http}/recommend", json={"user_id": user, "k": 3}, timeout=10)
                if got.json()["strategy"] == "content":
                    lat.append(time.perf_counter() - t_ack)
                    break
                if time.perf_counter() - t0 > 10:
                    lat.append(float("inf"))
                    break
                time.sleep(0.002)  # poll, but leave the cores to the consumer and the server
            time.sleep(0.05)
        producer.wait()
    a = np.asarray(lat) * 1e3
    return {
        "load": "1,000 events/s (producer, batches of 10) + probes",
        "probes": len(a),
        "p50 ms": round(float(np.percentile(a, 50)), 1),
        "p99 ms": round(float(np.percentile(a, 99)), 1),
        "max ms": round(float(a.max()), 1),
    }


def http_rounds(env: dict[str, str], url: str, k: int, seconds: int, rounds: int) -> list[dict]:
    """wrk on POST /events, log on (k consumers) vs off, interleaved rounds."""
    work = ROOT / "bench" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "events.lua"
    items = env["BENCH_ITEMS"].split(",")
    script.write_text(LUA % items[0])
    bento = str(Path(sys.executable).with_name("bentoml"))
    cmd = [bento, "serve", "tailor.serving.service:Tailor", "--host", "127.0.0.1"]
    cmd += ["--port", "{port}"]
    on_prefix, off_prefix = f"h{uuid.uuid4().hex[:6]}:", f"o{uuid.uuid4().hex[:6]}:"
    on_env = {**env, "TAILOR_STREAM": "1", "TAILOR_REDIS_PREFIX": on_prefix}
    off_env = {**env, "TAILOR_REDIS_PREFIX": off_prefix}
    r = redis.Redis.from_url(url, decode_responses=True)
    cells: dict[str, list[dict]] = {"on": [], "off": []}
    with (
        server(cmd, on_env, "probe") as on_url,
        server(cmd, off_env, "probe") as off_url,
        consumers(on_env, k),
    ):
        wait_started(r, on_prefix, k)
        for _ in range(rounds):
            for name, u in (("on", on_url), ("off", off_url)):
                cells[name].append(wrk([f"{u}/events"], 32, seconds, script))
        t = time.time()
        total = int(r.xlen(f"{on_prefix}stream"))
        while applied(r, on_prefix) < total and time.time() - t < 120:
            time.sleep(0.05)
        drain = time.time() - t
    out = []
    for name, label in (
        ("on", f"HTTP /events, log on ({k} consumer(s) applying)"),
        ("off", "HTTP /events, log off (synchronous Redis write)"),
    ):
        rps = [c["rps"] for c in cells[name]]
        out.append(
            {
                "path": label,
                "req/s (median)": round(float(np.median(rps))),
                "p50 ms": round(float(np.median([c["p50_ms"] for c in cells[name]])), 1),
                "p99 ms": round(float(np.median([c["p99_ms"] for c in cells[name]])), 1),
                "errors": sum(c["errors"] for c in cells[name]),
                "consumer caught up after load (s)": round(drain, 1) if name == "on" else "",
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=150_000)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk cell and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--produce", type=int, help=argparse.SUPPRESS)  # the producer process
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=500, help=argparse.SUPPRESS)
    args = parser.parse_args()
    home = Path(os.environ.get("BENTOML_HOME", ROOT / "bentoml_home"))
    catalogs = sorted(
        (home / "models" / "tailor-catalog").glob("*/items.parquet"),
        key=lambda p: p.stat().st_mtime,
    )
    if args.produce:
        import pandas as pd

        items = pd.read_parquet(catalogs[-1])["item_id"].astype(str).head(500).tolist()
        produce(args.url, args.prefix, args.produce, args.batch, args.rate, items)
        return
    if not catalogs or shutil.which("wrk") is None:
        sys.exit(f"needs packaged models in {home} (make package) and wrk (make wrk)")
    import pandas as pd

    items = pd.read_parquet(catalogs[-1])["item_id"].astype(str).head(500).tolist()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        work = Path(tmp)
        env = {
            **os.environ,
            "BENTOML_HOME": str(home),
            "BENTOML_DO_NOT_TRACK": "1",
            "PYTHONPATH": str(ROOT),
            "TAILOR_REDIS_URL": url,
            "TAILOR_SUPPRESSION_LIST": str(work / "suppression.csv"),
            "TAILOR_RATE_LIMIT": "0",
            "BENCH_ITEMS": ",".join(items[:5]),
        }
        rows = [direct_baseline(env, 3_000, items)]
        for k in (1, 2):
            rows.append(pipeline_run(env, url, k, args.events, items))
        http = http_rounds(env, url, 2, args.seconds, args.rounds)
        lat = latency_run(env, url, items, args.latency_seconds)
    load.append(os.getloadavg()[0])
    best = max(r["applied/s"] for r in rows[1:])
    base = rows[0]["applied/s"]
    for r in rows:
        r["× baseline"] = round(r["applied/s"] / base, 2)
    verdict = (
        f"Targets: ≥ 5,000 events/s producer -> applied profiles: {best:,} "
        f"({'met' if best >= 5000 else 'NOT met'}); p99 append -> visible in /recommend at "
        f"1,000 events/s ≤ 250 ms: {lat['p99 ms']} ms "
        f"({'met' if lat['p99 ms'] <= 250 else 'NOT met'}). Load average (1 min) "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (the benchmark's own processes "
        f"included). Models: `{home.name}` ({len(items)} items used)."
    )
    body = "\n\n".join(
        [
            "Producer to applied live profiles (a second process appends in pipelined batches "
            "of 500; redis-server with appendonly + appendfsync always):",
            markdown_table(rows),
            "HTTP `POST /events` (wrk, 32 connections, 2 workers, median of the rounds):",
            markdown_table(http),
            "Append to visible in `/recommend`'s live profile:",
            markdown_table([lat]),
            verdict,
        ]
    )
    cmd = "python bench/bench_stream.py" + (
        "" if args.events == 150_000 else f" --events {args.events}"
    )
    write_section("serving-stream", "Serving: the event log (Redis Streams)", body, cmd)
    print(body)


if __name__ == "__main__":
    main()
