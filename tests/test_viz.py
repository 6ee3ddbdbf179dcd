"""`kedro viz build` (what `make viz` serves, as static files) shows every registered pipeline."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ENV, KEDRO, make_project_copy, registered_pipelines

pytestmark = pytest.mark.e2e


def _offline(cmd: list[str]) -> list[str]:
    """``cmd`` in a network namespace of its own where the kernel allows it (no network)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn", *cmd]
    return cmd


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project_copy(tmp_path_factory.mktemp("viz_project"))
    # and a dead proxy, so an HTTP call fails even where no namespace can be made
    dead = "http://127.0.0.1:9"
    env = {**ENV, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "NO_PROXY": ""}
    proc = subprocess.run(
        _offline([str(KEDRO), "viz", "build"]),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # kedro-viz prints its errors and may still exit 0: the files are the check
    main = project / "build" / "api" / "main"
    assert proc.returncode == 0 and main.exists(), proc.stdout[-3000:] + proc.stderr[-6000:]
    return project / "build"


def test_every_registered_pipeline_is_exported(build: Path) -> None:
    registered = registered_pipelines()  # a `serving` pipeline added later is covered too
    main = json.loads((build / "api" / "main").read_text())
    listed = {p["id"] for p in main["pipelines"]}
    assert set(registered) <= listed, set(registered) - listed
    assert main["selected_pipeline"] == "__default__"
    assert (build / "index.html").stat().st_size > 0  # the app itself, not only its data
    for name, nodes in registered.items():
        graph = json.loads((build / "api" / "pipelines" / name).read_text())
        tasks = {n["name"] for n in graph["nodes"] if n["type"] == "task"}
        assert set(nodes) <= tasks, (name, set(nodes) - tasks)


def test_a_pipeline_graph_has_its_nodes_and_datasets(build: Path) -> None:
    graph = json.loads((build / "api" / "pipelines" / "monitoring").read_text())
    names = {n["name"] for n in graph["nodes"]}
    assert {"monitoring_windows", "monitoring_data_drift", "monitoring_retrain_signal"} <= names
    assert "customer_lines" in names  # its input dataset
    ids = {n["id"] for n in graph["nodes"]}
    assert graph["edges"] and all({e["source"], e["target"]} <= ids for e in graph["edges"])
