"""Online metrics by strategy and segment, kept as counters updated on write.

Each /feedback and /events call turns into a few counter increments (``Incr``) that the
store adds to an all-time bucket and to hourly and daily buckets; /stats and /dashboard
only read counters, so their cost does not grow with traffic.

- impressions, clicks, conversions: from /feedback (once per request id and event);
- dwell time of a view that carries the ``request_id`` of the recommendation it came from:
  its reported ``duration_s``, else the gap to the user's next event if that one is in the
  same session (same ``session_id`` when both have one, and within ``session_gap_s``);
  events are taken in the order they arrive;
- repeat visits: of the users shown a (strategy, segment) for the first time (``users``),
  those who came back (``returned``: an event that starts a new session more than
  ``session_gap_s`` and at most ``repeat_window_days`` after that first impression). A
  return is counted in the buckets of the first impression, so each bucket's rate is the
  share of that bucket's new users who came back.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tailor.serving.bandit import posterior_mean
from tailor.serving.store.base import (
    FEEDBACK_EVENTS,
    METRICS,
    CounterRow,
    Event,
    Incr,
    Visit,
    visit_key,
)

Key = tuple[str, str]  # (segment, strategy)


def same_session(prev: Event, event: Event, session_gap_s: float) -> bool:
    if prev.session_id and event.session_id and prev.session_id != event.session_id:
        return False
    return event.ts - prev.ts <= session_gap_s


def event_increments(
    event: Event,
    key: Key | None,
    prev: Event | None,
    prev_key: Key | None,
    visits: dict[str, Visit],
    params: dict[str, Any],
    now: float,
) -> tuple[list[Incr], dict[str, Visit]]:
    """Counter increments of one event and the user's visits it changed.

    ``key``/``prev_key``: the (segment, strategy) the event and the user's previous event are
    attributed to through their request ids (None: not attributed)."""
    gap = float(params["session_gap_s"])
    window = float(params["repeat_window_days"]) * 86_400
    out: list[Incr] = []
    if event.event_type == "view" and key and event.duration_s is not None:
        out += [Incr(*key, "dwell_sum", float(event.duration_s), now), Incr(*key, "views", 1, now)]
    in_session = prev is not None and same_session(prev, event, gap)
    if (
        prev is not None
        and prev_key
        and prev.event_type == "view"
        and prev.duration_s is None
        and in_session
        and event.ts >= prev.ts
    ):
        out += [
            Incr(*prev_key, "dwell_sum", event.ts - prev.ts, now),
            Incr(*prev_key, "views", 1, now),
        ]
    changed: dict[str, Visit] = {}
    if not in_session:  # a new visit: does it return to a strategy shown before?
        for vkey, v in visits.items():
            if not v.returned and v.t0 + gap < event.ts <= v.t0 + window:
                segment, strategy = vkey.rsplit("|", 1)
                out.append(Incr(segment, strategy, "returned", 1, v.t0))
                changed[vkey] = Visit(v.t0, returned=True)
    return out, changed


def feedback_increments(
    key: Key, event: str, visits: dict[str, Visit], now: float
) -> tuple[list[Incr], dict[str, Visit]]:
    """One feedback event; a user's first impression of a (segment, strategy) starts its
    repeat-visit clock."""
    out = [Incr(*key, event, 1, now)]
    vkey = visit_key(*key)
    if event == "impression" and vkey not in visits:
        out.append(Incr(*key, "users", 1, now))
        return out, {vkey: Visit(now)}
    return out, {}


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def metrics_of(c: dict[str, float], prior: tuple[float, float]) -> dict[str, Any]:
    """The reported figures of one set of counters."""
    shown = int(c.get("impression", 0))
    views = int(c.get("views", 0))
    users = int(c.get("users", 0))
    counts = {e: int(c.get(e, 0)) for e in FEEDBACK_EVENTS}
    return {
        "impressions": shown,
        "clicks": counts["click"],
        "conversions": counts["conversion"],
        "ctr": _rate(counts["click"], shown),
        "conversion_rate": _rate(counts["conversion"], shown),
        "bandit_mean": round(posterior_mean(counts, prior), 4),
        "dwell_s_mean": round(c.get("dwell_sum", 0.0) / views, 2) if views else None,
        "dwell_s_sum": round(c.get("dwell_sum", 0.0), 3),
        "views": views,
        "users": users,
        "returned_users": int(c.get("returned", 0)),
        "repeat_visit_rate": _rate(c.get("returned", 0), users),
    }


def grouped(rows: list[CounterRow]) -> dict[tuple[int, str, str], dict[str, float]]:
    """``{(bucket, segment, strategy): {metric: value}}``."""
    out: dict[tuple[int, str, str], dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r.metric in METRICS:
            out[(r.bucket, r.segment, r.strategy)][r.metric] = r.value
    return out


def summary(rows: list[CounterRow], prior: tuple[float, float]) -> dict[str, Any]:
    """/stats from the all-time counters: per (segment, strategy) and per strategy."""
    by_key = grouped(rows)
    table = []
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (_, seg, strategy), c in sorted(by_key.items()):
        table.append({"segment": seg, "strategy": strategy, **metrics_of(c, prior)})
        for metric, value in c.items():
            totals[strategy][metric] += value
    by_strategy = {}
    for strategy, c in sorted(totals.items()):
        m = metrics_of(c, prior)
        m.pop("bandit_mean")  # the bandit is per segment
        by_strategy[strategy] = m
    return {"by_strategy": by_strategy, "by_strategy_segment": table}


def series(rows: list[CounterRow], prior: tuple[float, float]) -> list[dict[str, Any]]:
    """Hourly or daily rows: one per (bucket, segment, strategy), oldest first."""
    return [
        {"bucket": bucket, "segment": seg, "strategy": strategy, **metrics_of(c, prior)}
        for (bucket, seg, strategy), c in sorted(grouped(rows).items())
    ]
