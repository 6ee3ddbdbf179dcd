"""/stats: impressions, CTR, conversion, dwell time and repeat visits by strategy and segment.

Dwell time of a view is its reported ``duration_s``, else the gap to the user's next event
in the same session (capped). A user counts as repeat visitor of a (strategy, segment) if,
after their first impression from it, they came back (an event in a later session) within
``repeat_window_days``. Views and visits are attributed through the ``request_id`` that
events and feedback carry.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

from tailor.serving.bandit import posterior_mean
from tailor.serving.store import Event, Feedback


def _key_of(request_id: str | None, names: dict[str, str]) -> tuple[str, str] | None:
    """(strategy, segment) of a request id issued by /recommend."""
    parts = (request_id or "").split(".")
    return (parts[2], names.get(parts[3], parts[3])) if len(parts) == 4 else None


def compute(
    counts: dict[tuple[str, str], dict[str, int]],
    events: list[Event],
    feedback: list[Feedback],
    segment_names: dict[str, str],
    params: dict[str, Any],
) -> dict[str, Any]:
    session_gap = float(params["session_gap_s"])
    window = float(params["repeat_window_days"]) * 86_400
    by_user: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        by_user[ev.user_id].append(ev)
    dwell: dict[tuple[str, str], list[float]] = defaultdict(list)
    visits: dict[str, list[float]] = {}
    for user, evs in by_user.items():
        evs.sort(key=lambda e: e.ts)
        starts = [evs[0].ts] if evs else []
        for prev, nxt in pairwise(evs):
            if nxt.ts - prev.ts > session_gap or (
                nxt.session_id and prev.session_id and nxt.session_id != prev.session_id
            ):
                starts.append(nxt.ts)
        visits[user] = starts
        for i, ev in enumerate(evs):
            key = _key_of(ev.request_id, segment_names)
            if ev.event_type != "view" or key is None:
                continue
            if ev.duration_s is not None:
                dwell[key].append(ev.duration_s)
            elif i + 1 < len(evs) and evs[i + 1].ts - ev.ts <= session_gap:
                dwell[key].append(evs[i + 1].ts - ev.ts)
    first_seen: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for fb in feedback:
        if fb.event == "impression":
            key = (fb.strategy, fb.segment)
            first_seen[key][fb.user_id] = min(first_seen[key].get(fb.user_id, fb.ts), fb.ts)
    rows = []
    keys = set(counts) | {(seg, st) for st, seg in first_seen} | {(g, s) for s, g in dwell}
    for seg, strategy in sorted(keys):
        c = counts.get((seg, strategy), {"impression": 0, "click": 0, "conversion": 0})
        shown = c["impression"]
        durations = dwell.get((strategy, seg), [])
        users = first_seen.get((strategy, seg), {})
        back = sum(
            any(t0 + session_gap < t <= t0 + window for t in visits.get(u, []))
            for u, t0 in users.items()
        )
        rows.append(
            {
                "segment": seg,
                "strategy": strategy,
                "impressions": shown,
                "clicks": c["click"],
                "conversions": c["conversion"],
                "ctr": round(c["click"] / shown, 4) if shown else None,
                "conversion_rate": round(c["conversion"] / shown, 4) if shown else None,
                "bandit_mean": round(posterior_mean(c), 4),
                "dwell_s_mean": round(sum(durations) / len(durations), 2) if durations else None,
                "views": len(durations),
                "users": len(users),
                "repeat_visit_rate": round(back / len(users), 4) if users else None,
            }
        )
    totals: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = totals.setdefault(r["strategy"], {"impressions": 0, "clicks": 0, "conversions": 0})
        for name in ("impressions", "clicks", "conversions"):
            t[name] += r[name]
    for t in totals.values():
        t["ctr"] = round(t["clicks"] / t["impressions"], 4) if t["impressions"] else None
        t["conversion_rate"] = (
            round(t["conversions"] / t["impressions"], 4) if t["impressions"] else None
        )
    return {"by_strategy": totals, "by_strategy_segment": rows}
