"""``GET /dashboard``: online metrics as one self-contained HTML page (server-rendered SVG).

No script and no external resource: the page is the same numbers as /stats (all-time
table, each cell tagged ``data-segment``/``data-strategy``/``data-metric`` so a test can
read them back), the same counters over time (hourly and daily buckets kept by the store)
per strategy and per segment, and the bandit's Beta posterior per segment. It reloads
itself every ``refresh_s`` seconds.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.stats import beta

from tailor.serving.stats import metrics_of
from tailor.serving.store import CounterRow

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
TABLE_METRICS = [
    ("impressions", "impressions", "{:d}"),
    ("clicks", "clicks", "{:d}"),
    ("conversions", "conversions", "{:d}"),
    ("ctr", "CTR", "{:.4f}"),
    ("conversion_rate", "conversion", "{:.4f}"),
    ("dwell_s_mean", "mean dwell (s)", "{:.2f}"),
    ("repeat_visit_rate", "repeat visits", "{:.4f}"),
]
CHART_METRICS = [
    ("ctr", "CTR"),
    ("conversion_rate", "Conversion rate"),
    ("dwell_s_mean", "Mean dwell time (s)"),
    ("repeat_visit_rate", "Repeat-visit rate"),
]
CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{margin:0 0 4px}h2{margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;
text-align:right}th{background:#f6f6f6}td.name{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #eee}
.muted{color:#777;font-size:12px}
"""


def _fmt(value: Any, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _color(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted(names))}


def _table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    head = "".join(f"<th>{k}</th>" for k in keys) + "".join(
        f"<th>{label}</th>" for _, label, _ in TABLE_METRICS
    )
    body = []
    for r in rows:
        cells = "".join(f'<td class="name">{html.escape(str(r[k]))}</td>' for k in keys)
        attrs = "".join(f' data-{k}="{html.escape(str(r[k]), quote=True)}"' for k in keys)
        for metric, _, pattern in TABLE_METRICS:
            value = r.get(metric)
            raw = "" if value is None else str(value)
            cells += f'<td{attrs} data-metric="{metric}" data-value="{raw}">'
            cells += f"{_fmt(value, pattern)}</td>"
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def by_dimension(rows: list[CounterRow], dim: str) -> dict[str, dict[int, dict[str, float]]]:
    """``{strategy or segment: {bucket: counters summed over the other dimension}}``."""
    out: dict[str, dict[int, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for r in rows:
        name = r.strategy if dim == "strategy" else r.segment
        out[name][r.bucket][r.metric] += r.value
    return out


def line_chart(
    title: str,
    lines: dict[str, list[tuple[int, float]]],
    x0: int,
    x1: int,
    colors: dict[str, str],
    width: int = 320,
    height: int = 170,
    x_labels: tuple[str, str] | None = None,
) -> str:
    """An SVG line chart: x = bucket start (epoch s, unless ``x_labels`` name the ends), y
    from 0 to the largest value."""
    left, right, top, bottom = 44, 10, 22, 24
    ys = [y for pts in lines.values() for _, y in pts]
    ymax = max(ys) if ys and max(ys) > 0 else 1.0
    span = max(x1 - x0, 1)

    def px(x: float) -> float:
        return left + (x - x0) / span * (width - left - right)

    def py(y: float) -> float:
        return height - bottom - y / ymax * (height - top - bottom)

    parts = [f'<text x="{left}" y="14" font-size="12" font-weight="600">{title}</text>']
    for frac in (0, 0.5, 1):
        y = py(ymax * frac)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#eee"/>')  # fmt: skip
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                     f"{ymax * frac:.3g}</text>")  # fmt: skip
    for i, (x, anchor) in enumerate(((x0, "start"), (x1, "end"))):
        label = x_labels[i] if x_labels else datetime.fromtimestamp(x, UTC).strftime("%m-%d %H:%M")
        parts.append(f'<text x="{px(x):.1f}" y="{height - 6}" font-size="10" '
                     f'text-anchor="{anchor}">{label}</text>')  # fmt: skip
    for name, pts in sorted(lines.items()):
        if not pts:
            continue
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(pts))
        c = colors.get(name, "#333")
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.8" points="{coords}"/>')
        for x, y in pts:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.2" fill="{c}"/>')
    if not any(lines.values()):
        parts.append(f'<text x="{width / 2}" y="{height / 2}" font-size="11" fill="#999" '
                     'text-anchor="middle">no data yet</text>')  # fmt: skip
    return (
        f'<svg class="chart" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _legend(colors: dict[str, str]) -> str:
    items = "".join(
        f'<span style="margin-right:14px"><span style="color:{c}">■</span> {html.escape(n)}</span>'
        for n, c in colors.items()
    )
    return f'<p class="muted">{items}</p>'


def _over_time(
    rows: list[CounterRow], dim: str, x0: int, x1: int, prior: tuple[float, float]
) -> str:
    data = by_dimension(rows, dim)
    colors = _color(list(data))
    charts = []
    for metric, label in CHART_METRICS:
        lines = {}
        for name, buckets in data.items():
            pts = [(b, metrics_of(c, prior)[metric]) for b, c in buckets.items()]
            lines[name] = [(b, float(v)) for b, v in pts if v is not None]
        charts.append(line_chart(f"{label} by {dim}", lines, x0, x1, colors))
    return _legend(colors) + f'<div class="grid">{"".join(charts)}</div>'


def _posterior(rows: list[dict[str, Any]], prior: tuple[float, float]) -> str:
    """Beta(a0 + clicks, b0 + impressions - clicks) of each strategy, per segment."""
    segments = sorted({r["segment"] for r in rows})
    colors = _color(sorted({r["strategy"] for r in rows}))
    x = np.linspace(0.0005, 0.9995, 200)
    out = []
    for seg in segments:
        lines, table = {}, []
        for r in (r for r in rows if r["segment"] == seg):
            a = prior[0] + r["clicks"]
            b = prior[1] + max(r["impressions"] - r["clicks"], 0)
            density = beta.pdf(x, a, b)
            lines[r["strategy"]] = list(
                zip((x * 1e6).astype(int).tolist(), density.tolist(), strict=True)
            )
            lo, hi = beta.ppf([0.025, 0.975], a, b)
            attrs = f'data-segment="{html.escape(seg, quote=True)}" data-strategy="{r["strategy"]}"'
            table.append(
                f"<tr><td class='name'>{r['strategy']}</td>"
                f'<td {attrs} data-metric="bandit_mean" data-value="{r["bandit_mean"]}">'
                f"{r['bandit_mean']:.4f}</td><td>{lo:.3f} – {hi:.3f}</td></tr>"
            )
        title = f"P(click) posterior: {html.escape(seg)}"
        chart = line_chart(title, lines, 0, 10**6, colors, x_labels=("0", "1"))
        head = "<tr><th>strategy</th><th>posterior mean</th><th>95% interval</th></tr>"
        out.append(f"<div>{chart}<table>{head}{''.join(table)}</table></div>")
    return _legend(colors) + f'<div class="grid">{"".join(out)}</div>'


def stream_table(stream: dict[str, Any]) -> str:
    """Length, throughput and each group's lag, pending and oldest unacknowledged entry; each
    cell tagged ``data-group``/``data-metric`` like the tables above."""
    rows = []
    for name, g in sorted(stream["groups"].items()):
        cells = "".join(
            f'<td data-group="{html.escape(name)}" data-metric="{m}">{_fmt(g[m], fmt)}</td>'
            for m, fmt in (("lag", "{:d}"), ("pending", "{:d}"), ("oldest_unacked_age_s", "{:.3f}"))
        )
        rows.append(f'<tr><td class="name">{html.escape(name)}</td>{cells}</tr>')
    head = (
        "<tr><th>group</th><th>lag (entries)</th><th>pending</th><th>oldest unacked (s)</th></tr>"
    )
    return (
        f'<p>length <span data-metric="length">{stream["length"]}</span> entries; applied '
        f'<span data-metric="applied_per_s">{stream["applied_per_s"]:.2f}</span> per second '
        f"(last minute)</p><table>{head}{''.join(rows)}</table>"
    )


def render(
    summary: dict[str, Any],
    hourly: list[CounterRow],
    daily: list[CounterRow],
    prior: tuple[float, float],
    now: float,
    hours: int,
    days: int,
    refresh_s: int,
    stream: dict[str, Any] | None = None,
) -> str:
    """The whole page (with the event log's lag when ``stream`` is given)."""
    rows = summary["by_strategy_segment"]
    totals = [{"strategy": k, **v} for k, v in sorted(summary["by_strategy"].items())]
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    hour0, day0 = int(now // 3600 * 3600), int(now // 86_400 * 86_400)
    body = [
        "<h1>Tailor: online metrics</h1>",
        f'<p class="muted">generated {stamp}; reloads every {refresh_s} s; the same counters '
        "as <code>GET /stats</code></p>",
        "<h2>By strategy (all time)</h2>",
        _table(totals, ["strategy"]),
        "<h2>By segment and strategy (all time)</h2>",
        _table(rows, ["segment", "strategy"]),
        f"<h2>Last {hours} hours (hourly)</h2>",
        _over_time(hourly, "strategy", hour0 - (hours - 1) * 3600, hour0, prior),
        _over_time(hourly, "segment", hour0 - (hours - 1) * 3600, hour0, prior),
        f"<h2>Last {days} days (daily)</h2>",
        _over_time(daily, "strategy", day0 - (days - 1) * 86_400, day0, prior),
        _over_time(daily, "segment", day0 - (days - 1) * 86_400, day0, prior),
        "<h2>Bandit: posterior click-through per segment</h2>",
        _posterior(rows, prior) if rows else "<p class='muted'>no feedback yet</p>",
    ]
    if stream is not None:
        body += ["<h2>Event log (consumer groups)</h2>", stream_table(stream)]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{refresh_s}">'
        f"<title>Tailor dashboard</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
