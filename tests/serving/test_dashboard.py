"""GET /dashboard in a real headless Chromium after scripted traffic: its numbers are /stats.

The page is rendered by the browser from a real ``bentoml serve``; the DOM it produced is
read back (``--dump-dom``) and every figure compared with ``GET /stats``; a screenshot is
kept in ``test-artefacts/dashboard.png`` (``TAILOR_TEST_ARTEFACTS`` to change the folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.conftest import ROOT
from tests.serving.conftest import API_KEY, Server, run_server

pytestmark = pytest.mark.e2e
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
]
TABLE_METRICS = [
    "impressions",
    "clicks",
    "conversions",
    "ctr",
    "conversion_rate",
    "dwell_s_mean",
    "repeat_visit_rate",
]


def chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium not found: install it with `make chromium` (Debian package)")
    proc = subprocess.run([binary, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


class Cells(HTMLParser):
    """``{(segment, strategy, metric): data-value}`` of every tagged cell; svg elements."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], str] = {}
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "td" and a.get("data-metric"):
            key = (a.get("data-segment") or "*", a["data-strategy"] or "", a["data-metric"])
            self.cells[key] = a.get("data-value") or ""


@pytest.fixture(scope="module")
def dash_server(
    server_env: Callable[..., dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve_dashboard")
    with run_server(server_env("sqlite", workdir), workdir) as srv:
        yield srv


def scripted_traffic(server: Server, users: list[str]) -> None:
    """Recommendations with each strategy, feedback with clicks and conversions, views with
    dwell times and a return visit a day later."""
    t0 = pd.Timestamp.now(tz="UTC")
    for n, user in enumerate(users):
        strategy = ("model", "content", "popularity")[n % 3]
        rec = server.ok("/recommend", {"user_id": user, "k": 5, "strategy": strategy})
        rid = rec["request_id"]
        events = ["impression"] + ["click"] * (n % 2 == 0) + ["conversion"] * (n % 4 == 0)
        for event in events:
            server.ok("/feedback", {"user_id": user, "request_id": rid, "event": event})
        for i, (offset, duration) in enumerate(((0, 10.0 + n), (45, None), (50, None))):
            body = {
                "user_id": user,
                "event_type": "view",
                "item_id": rec["items"][i]["item_id"],
                "ts": (t0 + pd.Timedelta(seconds=offset)).isoformat(),
                "session_id": f"s{n}",
                "duration_s": duration,
                "request_id": rid,
            }
            server.ok("/events", body)
        if n % 3 != 2:
            body = {"user_id": user, "event_type": "search", "query": "mug"}
            server.ok("/events", {**body, "ts": (t0 + pd.Timedelta(days=1)).isoformat()})


def test_dashboard_shows_the_numbers_of_stats(dash_server: Server, serving_project: Path) -> None:
    history = pd.read_parquet(serving_project / "data/synthetic/03_primary/interactions.parquet")
    users = history["user_id"].astype(str).drop_duplicates().tolist()[100:112]
    scripted_traffic(dash_server, users)
    stats = dash_server.admin("/stats")
    assert sum(r["impressions"] for r in stats["by_strategy_segment"]) == len(users)

    port = dash_server.url.rsplit(":", 1)[1]
    url = f"http://admin:{API_KEY}@127.0.0.1:{port}/dashboard"  # HTTP Basic, key as password
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", url).stdout
    page = Cells()
    page.feed(dom)
    assert "Tailor: online metrics" in dom
    expected: dict[tuple[str, str, str], object] = {}
    for row in stats["by_strategy_segment"]:
        for metric in [*TABLE_METRICS, "bandit_mean"]:
            expected[(row["segment"], row["strategy"], metric)] = row[metric]
    for strategy, row in stats["by_strategy"].items():
        for metric in TABLE_METRICS:
            expected[("*", strategy, metric)] = row[metric]
    shown = {k: page.cells.get(k) for k in expected}
    assert shown == {k: "" if v is None else str(v) for k, v in expected.items()}
    # The page shows exactly these metrics (this file's list, not the dashboard's own), and
    # no cell that /stats did not report.
    assert {k[2] for k in page.cells} == {*TABLE_METRICS, "bandit_mean"}
    assert set(page.cells) == set(expected)
    assert page.tags.get("svg", 0) >= 17 and page.tags.get("polyline", 0) > 0
    assert "http-equiv" in dom and "<script" not in dom  # reloads itself, no scripts

    folder = Path(os.environ.get("TAILOR_TEST_ARTEFACTS", ROOT / "test-artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "dashboard.png"
    shot.unlink(missing_ok=True)
    chromium("--window-size=1400,2600", "--virtual-time-budget=5000", f"--screenshot={shot}", url)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_dashboard_without_the_key_is_refused_in_the_browser(dash_server: Server) -> None:
    # Over HTTP: 401 with the Basic challenge (a browser asks for the key), the refusal named.
    for auth in ({}, {"Authorization": "Bearer not-the-key"}):
        resp = requests.get(f"{dash_server.url}/dashboard", headers=auth, timeout=30)
        status = 401 if not auth else 403
        assert resp.status_code == status, (resp.status_code, resp.text)
        assert "authorization" in resp.text
        if not auth:
            challenges = resp.headers.get("www-authenticate", "")
            assert "Basic" in challenges, resp.headers
    # In the browser (which gets the same 401 and shows its key prompt): no numbers.
    dom = chromium("--dump-dom", f"{dash_server.url}/dashboard").stdout
    assert "Tailor: online metrics" not in dom and "data-metric" not in dom
