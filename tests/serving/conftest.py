"""Serving fixtures: a packaged model from real pipeline outputs, real servers over HTTP.

The model is built once per session from the small synthetic run: ``data_engineering``
(the shared ``synthetic_project`` fixture), then the ``recommender`` pipeline, then
``tailor.serving.package`` into a session-local BentoML home. Servers are real
``bentoml serve`` subprocesses on free loopback ports; Redis is a real ``redis-server``
(``TAILOR_REDIS_URL`` if set, else one started here; missing binary = failure, not skip).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import ENV, run_kedro

BENTOML = Path(sys.executable).with_name("bentoml")
SYNTHETIC = ("--env", "synthetic", "--params", "synthetic_users=300")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def serving_project(request: pytest.FixtureRequest) -> Path:
    """A project copy with data_engineering, segmentation and recommender run on 300
    synthetic users (forecasting outputs are packaged too when another test made them).

    ``TAILOR_SERVING_TEST_PROJECT`` reuses an already prepared copy (local iteration only).
    """
    prepared = os.environ.get("TAILOR_SERVING_TEST_PROJECT")
    if prepared:
        return Path(prepared)
    project: Path = request.getfixturevalue("synthetic_project")
    data = project / "data/synthetic"
    needs = {  # reuse what other tests already ran in this session's project
        "segmentation": data / "07_model_output/customer_segments_serving.parquet",
        "recommender": data / "06_models/recommender/MLmodel",
    }
    for pipeline, output in needs.items():
        if not output.exists():
            run_kedro(project, *SYNTHETIC[:2], "--pipeline", pipeline, *SYNTHETIC[2:])
    return project


@pytest.fixture(scope="session")
def bentoml_home(serving_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m tailor.serving.package`` into a session-local BentoML model store."""
    home = tmp_path_factory.mktemp("bentoml_home")
    proc = subprocess.run(
        [sys.executable, "-m", "tailor.serving.package", *SYNTHETIC, "--project", "."],
        cwd=serving_project,
        env={**ENV, "BENTOML_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"packaging failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return home


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TAILOR_REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: install it (apt-get install redis-server)")
    port, workdir = free_port(), tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


class Server:
    """A running ``bentoml serve`` of the Tailor service."""

    def __init__(self, url: str, proc: subprocess.Popen, env: dict[str, str]) -> None:
        self.url, self.proc, self.env = url, proc, env

    def post(self, route: str, body: object, **kw: object) -> requests.Response:
        return requests.post(f"{self.url}{route}", json=body, timeout=30, **kw)

    def ok(self, route: str, body: object) -> dict:
        resp = self.post(route, body)
        assert resp.status_code == 200, (route, resp.status_code, resp.text)
        return resp.json()

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@contextmanager
def run_server(env: dict[str, str], cwd: Path) -> Iterator[Server]:
    port = free_port()
    log = open(cwd / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(BENTOML),
            "serve",
            "tailor.serving.service:Tailor",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group: kill -9 reaches every worker
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
        yield Server(url, proc, env)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def server_env(bentoml_home: Path, redis_url: str) -> Callable[[str, Path], dict[str, str]]:
    """Environment of a server with the given backend whose state lives under ``workdir``."""

    def make(backend: str, workdir: Path) -> dict[str, str]:
        env = {
            **ENV,
            "BENTOML_HOME": str(bentoml_home),
            "TAILOR_WORKERS": "1",
            "TAILOR_BANDIT_SEED": "7",
            "TAILOR_SUPPRESSION_LIST": str(workdir / "suppression_list.csv"),
            "TAILOR_STORE_PATH": str(workdir / "profile_store.sqlite"),
        }
        env.pop("TAILOR_REDIS_URL", None)
        if backend == "redis":
            env["TAILOR_REDIS_URL"] = redis_url
            env["TAILOR_REDIS_PREFIX"] = f"test{free_port()}:"  # a fresh namespace per server
        return env

    return make


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(
    request: pytest.FixtureRequest,
    server_env: Callable[[str, Path], dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"serve_{request.param}")
    with run_server(server_env(request.param, workdir), workdir) as srv:
        srv.backend = request.param  # type: ignore[attr-defined]
        srv.workdir = workdir  # type: ignore[attr-defined]
        yield srv
