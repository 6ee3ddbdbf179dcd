"""Load benchmark of ``POST /recommend``: Tailor vs a bare FastAPI and a minimal BentoML
service doing the same numpy top-10, all in one run, with ``wrk`` on loopback.

Needs ``wrk`` (``make wrk``), ``redis-server`` and packaged models (``make package``, e.g.
``ENV=complete_journey``). All servers run at once and are measured in interleaved rounds
(the machine is shared: a burst of background load then hits every configuration alike) at
concurrency 1, 8 and 32: Tailor on SQLite, on Redis, and as two replicas on one Redis
(two wrk processes, half the connections each), plus Tailor variants at 8 and 32 to locate
the latency tail (tracing, access log, workers). Then the bento as it ships: its size, the
installed runtime set against the development lock, and the cold start (process start to
``/readyz``) of ``bentoml serve`` of the built bento from each. Bounded: rounds x cells x
seconds.

    .venv/bin/python bench/bench_serving.py [--seconds 4 --rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.results import markdown_table, write_section  # noqa: E402

BIN = Path(sys.executable).parent
LUA = """
local users = {%s}
local n = 0
request = function()
  n = n + 1
  local body = '{"user_id":"' .. users[(n %% #users) + 1] .. '","k":10}'
  return wrk.format("POST", "/recommend", {["Content-Type"] = "application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(cmd: list[str], env: dict[str, str], probe_user: str) -> Iterator[str]:
    port = free_port()
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                r = requests.post(
                    f"{url}/recommend", json={"user_id": probe_user, "k": 10}, timeout=5
                )
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd} did not start:\n{Path(log.name).read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _wrk_cmd(url: str, connections: int, seconds: int, script: Path) -> list[str]:
    threads = min(connections, 2)
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(script), url,
    ]  # fmt: skip


def _parse(out: str) -> dict[str, float]:
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(lat["50"]) if "50" in lat else float("nan"),
        "p99_ms": _ms(lat["99"]) if "99" in lat else float("nan"),
        "errors": errors,
    }


def wrk(
    urls: list[str], connections: int, seconds: int, script: Path, warmup: bool = True
) -> dict[str, float]:
    """One wrk per URL at once, the connections split between them (replicas behind a
    balancer): throughputs and errors add up; p50 is their mean, p99 the worst one."""
    share = max(connections // len(urls), 1)
    if warmup:  # not measured
        procs = [
            subprocess.Popen(
                ["wrk", "-t1", f"-c{share}", "-d2s", "-s", str(script), url],
                stdout=subprocess.DEVNULL,
            )
            for url in urls
        ]
        for p in procs:
            p.wait()
    procs = [
        subprocess.Popen(_wrk_cmd(url, share, seconds, script), stdout=subprocess.PIPE, text=True)
        for url in urls
    ]
    parts = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise RuntimeError(f"wrk failed: {out}")
        parts.append(_parse(out))
    return {
        "rps": sum(r["rps"] for r in parts),
        "p50_ms": sum(r["p50_ms"] for r in parts) / len(parts),
        "p99_ms": max(r["p99_ms"] for r in parts),
        "errors": sum(r["errors"] for r in parts),
    }


def noise_floor_ms(n: int = 3000) -> tuple[float, float]:
    """p50/p99 of a 4,000 x 64 numpy top-10 in this process: the machine's scheduling noise
    (2 shared cores) that every server's tail includes."""
    import numpy as np

    from bench.baselines.scoring import top_k

    lat = []
    for i in range(n):
        t = time.perf_counter()
        top_k(f"u{i}", 10)
        lat.append(time.perf_counter() - t)
    a = np.asarray(lat) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def verdict(table: pd.DataFrame, fastapi: pd.Series, load: tuple[float, float]) -> str:
    """The targets (issues 15 and 28) checked on this run's own table for every Tailor
    deployment (SQLite; Redis, one replica and two), with the machine's load."""
    lines = [f"Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end."]
    for name, rows in table[table["server"].str.startswith(TAILOR)].groupby("server", sort=False):
        rows = rows.set_index("concurrency")
        found = [f"**{name.removeprefix(TAILOR).strip(' ,:') or 'defaults'}**:"]
        if 32 in rows.index:
            ratio = rows.loc[32, "rps"] / fastapi[32]
            met = "met" if ratio >= 0.8 else "NOT met"
            found.append(f"≥ 0.8 × FastAPI at 32 concurrent: {ratio:.2f} × ({met});")
        if 8 in rows.index:
            p99 = rows.loc[8, "p99_ms"]
            met = "met" if p99 <= 25 else "NOT met"
            found.append(f"p99 ≤ 25 ms at 8 concurrent: {p99:.1f} ms ({met});")
        found.append(f"errors {int(rows['errors'].sum())}.")
        lines.append(" ".join(found))
    return "\n".join(f"- {line}" for line in lines)


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server configured as ``make redis`` (append-only, fsync always)."""
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout:
                break
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def build_bento(env: dict[str, str]) -> str:
    """``bentoml build`` of bentofile.yaml on the packaged models; the bento's tag."""
    out = subprocess.run(
        [str(BIN / "bentoml"), "build", "--output", "tag"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return re.search(r"__tag__:(\S+)", out).group(1)  # type: ignore[union-attr]


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def cold_start_s(bentoml: Path, tag: str, env: dict[str, str]) -> float:
    """Seconds from ``bentoml serve <bento>`` (in a directory outside the project) to the
    first 200 of ``/readyz``."""
    port = free_port()
    cwd = tempfile.mkdtemp(prefix="bench-cold-")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(bentoml), "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            if proc.poll() is not None or time.perf_counter() - t0 > 300:
                raise RuntimeError(f"{bentoml} serve {tag} did not become ready")
            time.sleep(0.05)
    finally:
        stop(proc)
        shutil.rmtree(cwd, ignore_errors=True)


def footprint(env: dict[str, str], rounds: int) -> str:
    """The bento as it ships (bentofile.yaml: the runtime set) against today's development
    lock: bento size, installed environment, cold start of the same bento from each."""
    tag = build_bento(env)
    home = Path(env["BENTOML_HOME"])
    bento = home / "bentos" / tag.replace(":", "/")
    # the bento references its models in the store; `bentoml export` and the image carry them
    tags = re.findall(r"^\s+- tag: (\S+)$", (bento / "bento.yaml").read_text(), re.M)
    models = {t: du(home / "models" / t.replace(":", "/")) for t in tags}
    runtime = ROOT / "bench" / "_work" / "serving-venv"
    subprocess.run(
        ["make", "-s", "serving-venv", f"SERVING_VENV={runtime}"], cwd=ROOT, env=env, check=True
    )
    venvs = {
        "runtime set (`requirements-serving.lock`, this bento)": runtime,
        "development lock (`requirements.lock`, what the bento installed before)": BIN.parent,
    }
    bare = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # the bento's code only
    starts: dict[str, list[float]] = {name: [] for name in venvs}
    for _ in range(rounds):  # interleaved, like the load cells
        for name, venv in venvs.items():
            starts[name].append(cold_start_s(venv / "bin" / "bentoml", tag, bare))
    rows = []
    for name, venv in venvs.items():
        site = next((venv / "lib").glob("python3*/site-packages"))
        rows.append(
            {
                "environment": name,
                "packages": len(list(site.glob("*.dist-info"))),
                "installed MB": f"{du(venv) / 1e6:.0f}",
                "cold start s (median)": f"{pd.Series(starts[name]).median():.1f}",
                "runs": ", ".join(f"{t:.1f}" for t in starts[name]),
            }
        )
    required = (bento / "env/python/requirements.txt").read_text()
    return (
        f"Bento `{tag}` (`bentoml build`) with its models: "
        f"{(du(bento) + sum(models.values())) / 1e6:.1f} MB: "
        + ", ".join(f"`{t.split(':')[0]}` {b / 1e6:.1f} MB" for t, b in models.items())
        + f", code {du(bento / 'src') / 1e3:.0f} kB; it requires "
        f"{len(re.findall(r'^[A-Za-z0-9]', required, re.M))} pinned packages. The image "
        "carries the installed environment below (no container engine here: its size is the "
        "environment's). Cold start: process start of `bentoml serve <bento>` (outside the "
        f"project, from each environment) to the first 200 of `/readyz`, {rounds} runs "
        "interleaved.\n\n" + markdown_table(rows)
    )


def stop(proc: subprocess.Popen) -> None:
    """The process and every descendant (BentoML workers run in sessions of their own)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(tree, timeout=20)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=10)


TAILOR = "Tailor /recommend"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4, help="per cell and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--no-variants", action="store_true")
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: make wrk / make redis")
    levels = [int(c) for c in args.levels.split(",")]
    load_before = os.getloadavg()[0]
    home = Path(os.environ.get("BENTOML_HOME", ROOT / "bentoml_home"))
    profiles = sorted(
        (home / "models" / "tailor-profiles").glob("*/users.parquet"),
        key=lambda p: p.stat().st_mtime,
    )
    if not profiles:
        sys.exit(f"no packaged models in {home}: run `make package` first")
    users = pd.read_parquet(profiles[-1])
    users = users.loc[users["consent"], "user_id"].astype(str).head(500).tolist()
    work = ROOT / "bench" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "recommend.lua"
    script.write_text(LUA % ",".join(f'"{u}"' for u in users))
    env = {
        **os.environ,
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("TAILOR_REDIS_URL", None)
    for old in work.glob("bench_store.sqlite*"):
        old.unlink()
    tailor_env = {
        **env,
        "TAILOR_STORE_PATH": str(work / "bench_store.sqlite"),
        "TAILOR_SUPPRESSION_LIST": str(work / "suppression.csv"),
        # wrk is one client: the per-client limit (429 past 20 req/s) would measure itself
        "TAILOR_RATE_LIMIT": "0",
    }
    bentoml_cmd = [str(BIN / "bentoml"), "serve", "--host", "127.0.0.1", "--port", "{port}"]
    tailor_cmd = [*bentoml_cmd, "tailor.serving.service:Tailor"]
    floor = noise_floor_ms()
    raw = []
    with ExitStack() as stack:  # all servers up at once; idle ones cost next to nothing
        redis_url = stack.enter_context(redis_server())
        on_redis = {**tailor_env, "TAILOR_REDIS_URL": redis_url}
        replica = {**on_redis, "TAILOR_REDIS_PREFIX": "bench-replicas:", "TAILOR_WORKERS": "1"}
        fastapi_cmd = [str(BIN / "uvicorn"), "bench.baselines.fastapi_app:app", "--host"]
        fastapi_cmd += [
            "127.0.0.1",
            "--port",
            "{port}",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        servers: dict[str, list[tuple[list[str], dict[str, str]]]] = {
            "FastAPI/uvicorn (bare, 1 worker)": [(fastapi_cmd, env)],
            "BentoML minimal (sync, 1 worker)": [
                ([*bentoml_cmd, "bench.baselines.bentoml_app:Minimal"], env)
            ],
            f"{TAILOR} (defaults: 2 workers, on the event loop, untraced, no access log; SQLite)": [
                (tailor_cmd, tailor_env)
            ],
            f"{TAILOR}, Redis store (1 replica, defaults)": [
                (tailor_cmd, {**on_redis, "TAILOR_REDIS_PREFIX": "bench-one:"})
            ],
            f"{TAILOR}, 2 replicas on one Redis (1 worker each)": [
                (tailor_cmd, replica),
                (tailor_cmd, replica),
            ],
        }
        if not args.no_variants:
            servers |= {
                "Tailor, tracing on (BentoML default)": [
                    (tailor_cmd, {**tailor_env, "TAILOR_UNTRACED": ""})
                ],
                "Tailor, 1 worker": [(tailor_cmd, {**tailor_env, "TAILOR_WORKERS": "1"})],
                "Tailor, /recommend in the thread pool (not on the event loop)": [
                    (tailor_cmd, {**tailor_env, "TAILOR_RECOMMEND_ON_LOOP": "0"})
                ],
                "Tailor, access log on": [(tailor_cmd, {**tailor_env, "TAILOR_ACCESS_LOG": "1"})],
            }
        urls = {
            name: [stack.enter_context(server(cmd, e, users[0])) for cmd, e in procs]
            for name, procs in servers.items()
        }
        for r in range(args.rounds):  # interleaved rounds: background load hits every cell alike
            for name, targets in urls.items():
                variant = name.startswith("Tailor,")
                for c in [c for c in levels if not variant or c > 1]:
                    res = wrk([f"{u}/recommend" for u in targets], c, args.seconds, script, r == 0)
                    print(f"round {r} {name:55s} c={c:<3d} {res}", flush=True)
                    raw.append({"server": name, "concurrency": c, **res})
    load_after = os.getloadavg()[0]
    per = pd.DataFrame(raw).groupby(["server", "concurrency"], sort=False)
    rows = (
        per[["rps", "p50_ms", "p99_ms"]].median().join(per["errors"].sum()).reset_index()
    ).to_dict("records")
    table = pd.DataFrame(rows)
    fastapi = table[table["server"].str.startswith("FastAPI")].set_index("concurrency")["rps"]
    body_rows = [
        {
            "server": r["server"],
            "concurrency": r["concurrency"],
            "req/s": f"{r['rps']:.0f}",
            "× FastAPI": f"{r['rps'] / fastapi[r['concurrency']]:.2f}",
            "p50 ms": f"{r['p50_ms']:.1f}",
            "p99 ms": f"{r['p99_ms']:.1f}",
            "errors": int(r["errors"]),
        }
        for r in rows
    ]
    catalog = max(
        (home / "models" / "tailor-catalog").glob("*/items.parquet"),
        key=lambda p: p.stat().st_mtime,
    )
    n_items = len(pd.read_parquet(catalog))
    body = (
        f"wrk on loopback; every server up at once and measured in {args.rounds} interleaved "
        f"rounds of {args.seconds} s per cell (2 s warm-up first): medians over rounds. "
        "Tailor serves "
        f"{len(users)} known users round-robin from its latest packaged models "
        f"({n_items:,} items in the catalog), rate limit off (wrk is one client); the Redis "
        "rows use a local redis-server configured as `make redis` (append-only, fsync "
        "always); the two replicas share its namespace and get half of the connections each "
        "from two wrk processes at once (req/s summed, p50 averaged, p99 the worse). "
        "Baselines score 4,000 items × 64 factors with numpy. "
        f"Noise floor: the same top-10 in-process, no server, took p50 {floor[0]:.2f} ms and "
        f"p99 {floor[1]:.2f} ms during this run (scheduling on the shared cores).\n\n"
        + markdown_table(body_rows)
        + "\n\n"
        + verdict(table, fastapi, (load_before, load_after))
        + "\n\n### The bento: size and cold start\n\n"
        + footprint(tailor_env, args.rounds)
    )
    write_section(
        "serving",
        "Serving: POST /recommend under load",
        body,
        f"python bench/bench_serving.py --seconds {args.seconds} --rounds {args.rounds}"
        + (" --no-variants" if args.no_variants else ""),
    )
    print(body)


if __name__ == "__main__":
    main()
