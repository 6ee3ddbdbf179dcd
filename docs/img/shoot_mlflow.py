"""Screenshots of the MLflow UI for the README (docs/img/mlflow-*.png).

Drives Debian's headless Chromium over the DevTools protocol (``websockets`` is in the lock):
the UI keeps its view (filter, expanded runs, charts) in localStorage, so the script writes
that state, then loads the page. Usage, with `mlflow server` running on a store made by
`kedro run --env synthetic` and `kedro run --env synthetic --pipeline evaluation`:

    python docs/img/shoot_mlflow.py http://127.0.0.1:5000 <experiment_id> \
        <run id to expand in the table> <run id whose candidates are charted> docs/img
"""

import asyncio
import base64
import itertools
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

PORT = 9333


class Page:
    def __init__(self, ws):
        self.ws, self.ids = ws, itertools.count(1)

    async def send(self, method, **params):
        i = next(self.ids)
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg.get("result", {})

    async def js(self, expr):
        r = await self.send(
            "Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True
        )
        return r.get("result", {}).get("value")

    async def shot(self, path):
        r = await self.send("Page.captureScreenshot", format="png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))


async def main(script):
    import websockets

    proc = subprocess.Popen(
        [
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--remote-debugging-port={PORT}",
            "--user-data-dir=/tmp/tailor_shots_profile",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(60):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json"))
                break
            except OSError:
                time.sleep(0.5)
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with websockets.connect(ws_url, max_size=50_000_000) as ws:
            page = Page(ws)
            await page.send("Page.enable")
            await page.send("Runtime.enable")
            await page.send(
                "Emulation.setDeviceMetricsOverride",
                width=1400,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            await script(page)
    finally:
        proc.terminate()
        proc.wait()


BASE = sys.argv[1]  # http://127.0.0.1:5077
EXP = sys.argv[2]  # experiment id
EXPAND = sys.argv[3]  # run id whose children the table shows
PARENT = sys.argv[4]  # run id whose candidate runs are charted
OUT = sys.argv[5]  # output directory
STATE_KEY = f'MLflowLocalStorage-1.1-ExperimentPage-["{EXP}"]-ReactComponentState'


def state(search, charts, columns, expanded, hidden=()):
    sec = uuid.uuid4().hex[:20]
    return {
        "searchFilter": search,
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "datasetsFilter": [],
        "modelVersionFilter": "All Runs",
        "selectedColumns": columns,
        "columnOrder": [],
        "columnWidths": {"tags.`mlflow.runName`": 330},
        "runsExpanded": {r: True for r in expanded},
        "runsPinned": [],
        "runsHidden": list(hidden),
        "runsVisibilityMap": {},
        "runsHiddenMode": "CUSTOM" if hidden else "FIRST_20_RUNS",
        "compareRunCharts": [
            {
                "uuid": uuid.uuid4().hex[:20],
                "type": "BAR",
                "runsCountToCompare": 20,
                "metricSectionId": sec,
                "deleted": False,
                "isGenerated": False,
                "displayName": key,
                "metricKey": key,
            }
            for key in charts
        ],
        "compareRunSections": [
            {
                "uuid": sec,
                "name": "candidates on the test window",
                "display": True,
                "isReordered": False,
                "deleted": False,
                "isGenerated": False,
            }
        ],
        "viewMaximized": False,
        "runListHidden": False,
        "isAccordionReordered": False,
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        "groupBy": None,
        "groupsExpanded": {},
        "autoRefreshEnabled": False,
        "globalLineChartConfig": {
            "xAxisKey": "step",
            "lineSmoothness": 0,
            "selectedXAxisMetricKey": "",
        },
    }


async def load(page, st, mode):
    await page.send("Page.navigate", url=f"{BASE}/#/experiments")
    await asyncio.sleep(4)
    await page.js(
        f"localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');"
        f"localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');"
        f"localStorage.setItem({json.dumps(STATE_KEY)}, {json.dumps(json.dumps(st))});"
    )
    q = urllib.parse.urlencode(
        {
            "workflowType": "machine_learning",
            "searchFilter": st["searchFilter"],
            "compareRunsMode": mode,
        }
    )
    await page.send("Page.navigate", url="about:blank")
    await asyncio.sleep(1)
    await page.send("Page.navigate", url=f"{BASE}/#/experiments/{EXP}/runs?{q}")
    await asyncio.sleep(25)


async def script(page):
    cols = ["metrics.`test/ndcg_at_10`", "metrics.`test/recall_at_10`", "tags.`tailor.candidate`"]
    await load(page, state("", [], cols, [EXPAND]), "TABLE")
    await page.shot(f"{OUT}/mlflow-runs.png")
    charts = [
        "test/ndcg_at_10",
        "test/recall_at_10",
        "test/precision_at_10",
        "test/coverage_at_10",
        "test/hit_rate_at_10",
        "test/map_at_10",
    ]
    search = f"tags.kind = 'candidate-evaluation' and tags.mlflow.parentRunId = '{PARENT}'"
    await load(page, state(search, charts, cols, [PARENT], [PARENT]), "CHART")
    await page.shot(f"{OUT}/mlflow-candidates-chart.png")


if __name__ == "__main__":
    asyncio.run(main(script))
