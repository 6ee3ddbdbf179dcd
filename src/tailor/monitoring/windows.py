"""Reference and current windows, and the windowed customer features and lines compared."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tailor.customer_features import customer_features

log = logging.getLogger(__name__)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """Whole days ``start`` … ``end`` (both inclusive)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY + 1

    @property
    def stop(self) -> pd.Timestamp:
        """Exclusive upper bound: midnight after ``end``."""
        return self.end + DAY

    def label(self) -> str:
        return f"{self.start.date()}..{self.end.date()}"


def resolve_windows(
    ts: pd.Series, split: dict[str, Any], params: dict[str, Any]
) -> tuple[Window, Window]:
    """Reference and current windows from parameters; ``null`` means "derive from the data".

    Current: the last ``current.days`` days when set, else the test window (the days after
    the split cutoff), else (cutoff at the end of the data) the last quarter of the data.
    Reference: from the first day of data to the cutoff, ending before the current window.
    A window that does not fit the data is shortened with a warning naming the parameter.
    """
    first, last = ts.min().normalize(), ts.max().normalize()
    # the first day with test data: a midnight cutoff's own day is test (tailor.splits)
    cutoff = (pd.Timestamp(split["cutoff"]) + pd.Timedelta(seconds=1)).normalize() - DAY
    ref, cur = params.get("reference") or {}, params.get("current") or {}
    cur_end = pd.Timestamp(cur.get("end") or last).normalize()
    if cur.get("start"):
        cur_start = pd.Timestamp(cur["start"]).normalize()
    elif cur.get("days"):
        cur_start = cur_end - (int(cur["days"]) - 1) * DAY
    elif cutoff < cur_end:
        cur_start = cutoff + DAY
    else:
        cur_start = cur_end - max(0, round(((cur_end - first) / DAY) / 4) - 1) * DAY
    if cur_start <= first:
        cur_start = first + ((cur_end - first) / 2).ceil("D")
        log.warning(
            "monitoring.current: the data has no days before the current window; current "
            "shortened to %s..%s so a reference remains",
            cur_start.date(),
            cur_end.date(),
        )
    ref_start = pd.Timestamp(ref.get("start") or first).normalize()
    ref_end = pd.Timestamp(ref.get("end") or min(cutoff, cur_start - DAY)).normalize()
    reference, current = Window(ref_start, ref_end), Window(cur_start, cur_end)
    for name, w in (("reference", reference), ("current", current)):
        if w.end < w.start:
            raise ValueError(
                f"monitoring.{name}: the window is empty ({w.label()}); set "
                f"monitoring.{name}.start/end inside the data ({first.date()}..{last.date()})"
            )
    if reference.days < current.days:
        log.warning(
            "monitoring.reference: %d days, shorter than the %d-day current window; the "
            "reference is compared as one tile",
            reference.days,
            current.days,
        )
    return reference, current


def tiles(window: Window, tile_days: float) -> list[Window]:
    """Cut ``window`` into ``round(days / tile_days)`` (≥1) equal tiles of whole days.

    Features such as recency, frequency and tenure depend on the window length, so the
    reference is described in tiles as long as the current window; rows stay comparable.
    """
    n = max(1, round(window.days / tile_days))
    edges = np.linspace(0, window.days, n + 1).round().astype(int)
    return [
        Window(window.start + int(a) * DAY, window.start + (int(b) - 1) * DAY)
        for a, b in itertools.pairwise(edges)
    ]


def _in_window(frame: pd.DataFrame, col: str, w: Window) -> pd.DataFrame:
    if frame is None or frame.empty or col not in frame:
        return pd.DataFrame()
    ts = frame[col]
    return frame[(ts >= w.start) & (ts < w.stop)]


def window_lines(lines: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Purchase lines inside the window, with the window label."""
    out = _in_window(lines, "ts", window).copy()
    out["window"] = window.label()
    return out.reset_index(drop=True)


def window_customer_features(
    lines: pd.DataFrame,
    window: Window,
    tile_days: float,
    users: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    email: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (customer, tile): features from that tile's data only, as of its end."""
    frames = []
    for tile in tiles(window, tile_days):
        tile_lines = _in_window(lines, "ts", tile)
        if tile_lines.empty:
            continue
        feats = customer_features(
            tile_lines,
            tile.stop - pd.Timedelta(seconds=1),
            users=users,
            events=_in_window(events, "ts", tile),
            email=_in_window(email, "sent_ts", tile),
        )
        # Mean unit price per customer: prices seen per customer, not per line, so a few
        # customers with thousands of lines do not decide the distribution.
        feats["unit_price"] = feats["user_id"].map(
            tile_lines.groupby("user_id")["unit_price"].mean()
        )
        feats["window"] = tile.label()
        frames.append(feats)
    if not frames:
        raise ValueError(f"no purchases in monitoring window {window.label()}")
    out = pd.concat(frames, ignore_index=True)
    log.info("customer features for %s: %d rows in %d tiles", window.label(), len(out), len(frames))
    return out
