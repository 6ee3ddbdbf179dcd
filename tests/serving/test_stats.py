"""Online metrics as counter increments: dwell, repeat visits and the summary, by hand."""

from __future__ import annotations

from tailor.serving.stats import event_increments, feedback_increments, series, summary
from tailor.serving.store import Event, Incr, Visit
from tailor.serving.store.base import CounterRow

PARAMS = {"session_gap_s": 1800, "repeat_window_days": 7}
KEY = ("loyal", "content")
NOW = 1_800_000_000.0


def view(ts: float, session: str | None = "s1", duration: float | None = None) -> Event:
    return Event("u", ts, "view", "I1", session, duration, "rid")


def test_reported_duration_is_the_dwell_time() -> None:
    incrs, _ = event_increments(view(100.0, duration=42.0), KEY, None, None, {}, PARAMS, NOW)
    assert incrs == [Incr(*KEY, "dwell_sum", 42.0, NOW), Incr(*KEY, "views", 1, NOW)]


def test_gap_to_the_next_event_in_the_session_is_the_dwell_time() -> None:
    prev = view(100.0)
    incrs, _ = event_increments(view(130.0), None, prev, KEY, {}, PARAMS, NOW)
    assert incrs == [Incr(*KEY, "dwell_sum", 30.0, NOW), Incr(*KEY, "views", 1, NOW)]
    # another session, or too long a gap: no dwell time for the previous view
    assert event_increments(view(130.0, "s2"), None, prev, KEY, {}, PARAMS, NOW)[0] == []
    assert event_increments(view(100.0 + 1801), None, prev, KEY, {}, PARAMS, NOW)[0] == []


def test_first_impression_starts_the_repeat_visit_clock_once() -> None:
    incrs, visits = feedback_increments(KEY, "impression", {}, NOW)
    assert incrs == [Incr(*KEY, "impression", 1, NOW), Incr(*KEY, "users", 1, NOW)]
    assert visits == {"loyal|content": Visit(NOW)}
    again, changed = feedback_increments(KEY, "impression", visits, NOW + 5)
    assert again == [Incr(*KEY, "impression", 1, NOW + 5)] and changed == {}


def test_a_new_session_within_the_window_is_a_return_counted_at_the_first_impression() -> None:
    visits = {"loyal|content": Visit(NOW)}
    prev = view(NOW + 10)
    same = event_increments(view(NOW + 60), None, prev, None, visits, PARAMS, NOW + 60)
    assert same == ([], {})  # same session: not a return
    back_ts = NOW + 3 * 86_400
    incrs, changed = event_increments(view(back_ts, "s2"), None, prev, None, visits, PARAMS, NOW)
    assert incrs == [Incr(*KEY, "returned", 1, NOW)]
    assert changed == {"loyal|content": Visit(NOW, returned=True)}
    late = event_increments(view(NOW + 8 * 86_400, "s3"), None, prev, None, visits, PARAMS, NOW)
    assert late == ([], {})  # after the window
    done = {"loyal|content": Visit(NOW, returned=True)}
    assert event_increments(view(back_ts, "s2"), None, prev, None, done, PARAMS, NOW) == ([], {})


def test_summary_and_series_from_counters() -> None:
    def row(metric: str, value: float, seg: str = "loyal", bucket: int = 0) -> CounterRow:
        return CounterRow("all", bucket, seg, "content", metric, value)

    rows = [row("impression", 4), row("click", 1), row("conversion", 1), row("dwell_sum", 72)]
    rows += [row("views", 2), row("users", 2), row("returned", 1), row("impression", 1, "new")]
    out = summary(rows, (1.0, 1.0))
    loyal = next(r for r in out["by_strategy_segment"] if r["segment"] == "loyal")
    assert loyal["ctr"] == 0.25 and loyal["conversion_rate"] == 0.25
    assert loyal["dwell_s_mean"] == 36.0 and loyal["repeat_visit_rate"] == 0.5
    assert loyal["bandit_mean"] == round(2 / 6, 4)
    assert out["by_strategy"]["content"]["impressions"] == 5
    assert out["by_strategy"]["content"]["ctr"] == 0.2
    new = next(r for r in out["by_strategy_segment"] if r["segment"] == "new")
    assert new["ctr"] == 0.0 and new["dwell_s_mean"] is None and new["repeat_visit_rate"] is None
    hourly = series([row("impression", 2, bucket=3600), row("impression", 3, bucket=0)], (1, 1))
    assert [(r["bucket"], r["impressions"]) for r in hourly] == [(0, 3), (3600, 2)]
