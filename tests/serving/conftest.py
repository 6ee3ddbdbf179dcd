"""Serving fixtures: a packaged model from real pipeline outputs, real servers over HTTP.

The model is built once per session from the small synthetic run: ``data_engineering``
(the shared ``synthetic_project`` fixture), then the ``recommender`` pipeline, then
the ``serving`` pipeline into a session-local BentoML home. Servers are real
``bentoml serve`` subprocesses on free loopback ports; Redis is a real ``redis-server``
(``TAILOR_REDIS_URL`` if set, else one started here; missing binary = failure, not skip).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import requests

from tests.conftest import ENV, ensure_run, run_kedro

BENTOML = Path(sys.executable).with_name("bentoml")
SYNTHETIC = ("--env", "synthetic", "--params", "synthetic_users=300")
# The next-purchase part of forecasting (seconds), with the node whose evaluation it reads.
NEXT_PURCHASE_NODES = "evaluate_next_purchase,predict_next_purchase,build_replenishment"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def serving_project(request: pytest.FixtureRequest) -> Path:
    """A project copy with data_engineering, segmentation, recommender and the next-purchase
    part of forecasting run on 300 synthetic users.

    ``TAILOR_SERVING_TEST_PROJECT`` reuses an already prepared copy (local iteration only).
    """
    prepared = os.environ.get("TAILOR_SERVING_TEST_PROJECT")
    if prepared:
        return Path(prepared)
    project: Path = request.getfixturevalue("synthetic_project")
    for pipeline in ("segmentation", "recommender"):  # once per suite (tests/conftest.py)
        ensure_run(project, pipeline, SYNTHETIC[-1])
    # the next-purchase nodes only (seconds; the demand forecasts take minutes)
    if not (project / "data/synthetic/07_model_output/next_purchase_predictions.parquet").exists():
        ensure_run(project, "forecasting", SYNTHETIC[-1], "--nodes", NEXT_PURCHASE_NODES)
    return project


@pytest.fixture(scope="session")
def bentoml_home(serving_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``serving`` pipeline (``make package``) into a session-local BentoML store."""
    home = tmp_path_factory.mktemp("bentoml_home")
    run_kedro(
        serving_project, *SYNTHETIC[:2], "--pipeline", "serving", *SYNTHETIC[2:],
        env={"BENTOML_HOME": str(home)},
    )  # fmt: skip
    return home


def start_redis(workdir: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A private redis-server with an fsync-always append-only file in ``workdir`` (on
    ``port``, e.g. to restart one on its file; else a free one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server not found: install it (make redis, or apt-get install redis-server)"
        )
    port = port or free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "always"]
    proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(400):
        try:
            client.ping()
            break
        except (redis.ConnectionError, redis.BusyLoadingError):  # loading its append-only file
            time.sleep(0.05)
    client.close()
    return proc, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TAILOR_REDIS_URL")
    if url:
        yield url
        return
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


# Every server this test session starts carries this mark in its environment, so the
# session-end check can find any BentoML worker of ours that outlived its server.
SESSION_MARK = uuid.uuid4().hex
API_KEY = "test-admin-key"


def process_tree(pid: int) -> list[psutil.Process]:
    """The server and every descendant (BentoML workers run in sessions of their own, so
    killing the server's process group does not reach them)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(procs: list[psutil.Process], sig: int, timeout: float = 15) -> None:
    """Send ``sig`` to every process (and its group) and wait until all are gone."""
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(p.pid) == p.pid:  # a group leader: its whole group
                os.killpg(p.pid, sig)
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout)


def leftover_workers() -> list[str]:
    """BentoML workers started by this session that are still running."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "_bentoml_impl.worker" not in cmd or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(psutil.Error):
            if p.environ().get("TAILOR_TEST_SESSION") == SESSION_MARK:
                found.append(f"{p.pid}: {cmd[:120]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_bentoml_worker_survives() -> Iterator[None]:
    """Fails the run if a BentoML worker started by the suite outlives it."""
    yield
    left = leftover_workers()
    assert not left, f"BentoML workers left running by the test suite: {left}"


class Server:
    """A running ``bentoml serve`` of the Tailor service."""

    def __init__(self, url: str, proc: subprocess.Popen, env: dict[str, str], workdir: Path):
        self.url, self.proc, self.env, self.workdir = url, proc, env, workdir
        self.backend = "redis" if env.get("TAILOR_REDIS_URL") else "sqlite"

    def post(self, route: str, body: object, **kw: Any) -> requests.Response:
        return requests.post(f"{self.url}{route}", json=body, timeout=30, **kw)

    def ok(self, route: str, body: object) -> dict:
        resp = self.post(route, body)
        assert resp.status_code == 200, (route, resp.status_code, resp.text)
        return resp.json()

    def admin(self, route: str, body: object | None = None) -> dict:
        """An admin endpoint with the API key (GET when there is no body)."""
        auth = {"Authorization": f"Bearer {API_KEY}"}
        if body is None:
            resp = requests.get(f"{self.url}{route}", headers=auth, timeout=30)
        else:
            resp = self.post(route, body, headers=auth)
        assert resp.status_code == 200, (route, resp.status_code, resp.text)
        return resp.json() if resp.headers["content-type"].startswith("application/json") else {}

    def row(self, segment: str, strategy: str) -> dict:
        """The /stats row of (segment, strategy); zeros if there is none yet."""
        for r in self.admin("/stats")["by_strategy_segment"]:
            if r["segment"] == segment and r["strategy"] == strategy:
                return r
        return {
            "impressions": 0,
            "clicks": 0,
            "conversions": 0,
            "views": 0,
            "dwell_s_sum": 0.0,
            "users": 0,
            "returned_users": 0,
        }

    def kill9(self) -> None:
        """SIGKILL the server and all its workers at once: no shutdown hook, no flush."""
        kill_tree(process_tree(self.proc.pid), signal.SIGKILL)
        self.proc.wait(10)


SERVICE = "tailor.serving.service:Tailor"


@contextmanager
def run_server(
    env: dict[str, str], cwd: Path, target: str = SERVICE, bentoml: Path = BENTOML
) -> Iterator[Server]:
    """``bentoml serve`` of ``target`` (the service from the project, or a built bento's tag)
    with the ``bentoml`` of a given venv, until ``/readyz`` answers 200."""
    port = free_port()
    log = open(cwd / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(bentoml), "serve", target, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env={**env, "TAILOR_TEST_SESSION": SESSION_MARK},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"server did not start:\n{(cwd / log.name).read_text()[-5000:]}")
            time.sleep(0.3)
        yield Server(url, proc, env, cwd)
    finally:
        kill_tree(process_tree(proc.pid), signal.SIGTERM)  # graceful; SIGKILL after 15 s
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        log.close()


@pytest.fixture(scope="session")
def server_env(bentoml_home: Path, redis_url: str) -> Callable[..., dict[str, str]]:
    """Environment of a server with the given backend whose state lives under ``workdir``."""

    def make(backend: str, workdir: Path, **extra: str) -> dict[str, str]:
        env = {
            **ENV,
            "BENTOML_HOME": str(bentoml_home),
            "TAILOR_WORKERS": "1",
            "TAILOR_BANDIT_SEED": "7",
            "TAILOR_API_KEY": API_KEY,
            "TAILOR_RATE_LIMIT": "0",  # the rate limit has its own test server
            "TAILOR_SUPPRESSION_LIST": str(workdir / "suppression_list.csv"),
            "TAILOR_STORE_PATH": str(workdir / "profile_store.sqlite"),
        }
        env.pop("TAILOR_REDIS_URL", None)
        if backend == "redis":
            env["TAILOR_REDIS_URL"] = redis_url
            env["TAILOR_REDIS_PREFIX"] = f"test{uuid.uuid4().hex[:8]}:"  # a fresh namespace
        env.update(extra)
        return env

    return make


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(
    request: pytest.FixtureRequest,
    server_env: Callable[..., dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"serve_{request.param}")
    with run_server(server_env(request.param, workdir), workdir) as srv:
        yield srv


def one_segment(srv: Server, candidates: list[str], n: int = 60) -> list[str]:
    """Up to ``n`` of ``candidates`` from the commonest segment (one segment: one bandit)."""
    by_segment: dict[str, list[str]] = {}
    for user in candidates:
        by_segment.setdefault(srv.ok("/segment", {"user_id": user})["segment"], []).append(user)
    return max(by_segment.values(), key=len)[:n]


def simulate_clicks(
    users: list[str], answer: Callable[[int], Server], credit: Callable[[int], Server], seed: int
) -> list[str]:
    """240 answers, step i from ``answer(i)``, its feedback to ``credit(i)``: simulated users
    click 'content' 40 % of the time and the other strategies 3 %. The strategies served."""
    rng = np.random.default_rng(seed)
    chosen = []
    for step in range(240):
        user = users[step % len(users)]
        rec = answer(step).ok("/recommend", {"user_id": user, "k": 5})
        chosen.append(rec["strategy"])
        fb = {"user_id": user, "request_id": rec["request_id"], "event": "impression"}
        credit(step).ok("/feedback", fb)
        if rng.random() < (0.4 if rec["strategy"] == "content" else 0.03):
            credit(step).ok("/feedback", {**fb, "event": "click"})
    return chosen
