"""NodeTimeHooks: each node's CPU and wall seconds, appended where TAILOR_NODE_TIMES says
(the recommender bench's per-node table reads them)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

from tailor.hooks import NodeTimeHooks


def test_each_node_writes_its_own_cpu_and_wall_seconds(tmp_path, monkeypatch) -> None:
    out = tmp_path / "times.jsonl"
    monkeypatch.setenv("TAILOR_NODE_TIMES", str(out))
    hooks = NodeTimeHooks()
    busy, idle = SimpleNamespace(name="busy"), SimpleNamespace(name="idle")
    hooks.before_node_run(busy)
    end = time.process_time() + 0.3
    while time.process_time() < end:  # busy: CPU time before idle starts
        pass
    hooks.before_node_run(idle)
    time.sleep(0.3)  # idle: wall time without CPU
    hooks.after_node_run(idle)
    hooks.after_node_run(busy)
    rows = {r["node"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert list(rows) == ["idle", "busy"]
    assert rows["idle"]["wall"] >= 0.3 and rows["idle"]["cpu"] < 0.2
    assert rows["busy"]["cpu"] >= 0.3  # from its own start, not idle's
