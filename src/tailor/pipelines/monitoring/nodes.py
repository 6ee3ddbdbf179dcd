"""Monitoring nodes: pure functions of frames and parameters (all I/O is in the catalog)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from tailor.monitoring.drift import (
    DriftConfig,
    assess_drift,
    drift_snapshot,
    evidently_drift_count,
)
from tailor.monitoring.predictions import PREDICTION_COLUMNS, prediction_frame
from tailor.monitoring.quality import quality_snapshot, quality_table
from tailor.monitoring.retrain_signal import retrain_decision
from tailor.monitoring.robust import ColumnSpec
from tailor.monitoring.windows import (
    resolve_windows,
    window_customer_features,
    window_lines,
)

if TYPE_CHECKING:
    from evidently.core.report import Snapshot

log = logging.getLogger(__name__)


def _metric(value: float) -> dict[str, float]:
    return {"value": float(value), "step": 0}


def _json(snapshot: Snapshot) -> str:
    return json.dumps(json.loads(snapshot.json()), indent=1)


def build_windows(
    lines: pd.DataFrame,
    users: pd.DataFrame,
    events: pd.DataFrame,
    email: pd.DataFrame,
    campaigns: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Reference and current customer features (in equal-length tiles) and purchase lines."""
    source = params.get("current", {}).get("source", "window")
    if source != "window":
        raise ValueError(
            f"monitoring.current.source '{source}' is not supported yet: only 'window' "
            "(see docs/monitoring.md for the event-log hook)"
        )
    reference, current = resolve_windows(lines["ts"], split, params)
    tile_days = float(params.get("tile_days") or current.days)
    sources = {"users": users, "events": events, "email": email, "campaigns": campaigns}
    ref_feats = window_customer_features(lines, reference, tile_days, **sources)
    cur_feats = window_customer_features(lines, current, current.days, **sources)
    log.info(
        "monitoring reference %s (%d customer-tiles) vs current %s (%d customers)",
        reference.label(),
        len(ref_feats),
        current.label(),
        len(cur_feats),
    )
    windows = {"reference": reference.label(), "current": current.label()}
    return (
        ref_feats,
        cur_feats,
        window_lines(lines, reference),
        window_lines(lines, current),
        windows,
    )


def data_drift(
    reference: pd.DataFrame, current: pd.DataFrame, params: dict[str, Any]
) -> tuple[str, str, pd.DataFrame, str, dict[str, Any]]:
    """Evidently data-drift report of the customer features with calibrated thresholds."""
    drift = params["drift"]
    spec = ColumnSpec.from_params(drift["customers"], drift)
    assessment = assess_drift(reference, current, spec, DriftConfig.from_params(drift))
    snapshot = drift_snapshot(assessment, float(drift["report_drift_share"]))
    count, _share = evidently_drift_count(snapshot)
    if int(count) != len(assessment.drifted):
        log.warning(
            "Evidently counts %d drifted columns, Tailor %d", count, len(assessment.drifted)
        )
    log.info(
        "customer drift: %d of %d columns (%s)",
        len(assessment.drifted),
        int(assessment.table["statistic"].notna().sum()),
        ", ".join(assessment.drifted) or "none",
    )
    summary = {
        "share": assessment.share,
        "count": len(assessment.drifted),
        "columns": assessment.drifted,
    }
    table = assessment.table.assign(report="customers")
    return snapshot.get_html_str(as_iframe=False), _json(snapshot), table, snapshot.dumps(), summary


def data_quality(
    ref_customers: pd.DataFrame,
    cur_customers: pd.DataFrame,
    ref_lines: pd.DataFrame,
    cur_lines: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[str, str, str, str, pd.DataFrame, dict[str, str]]:
    """Missing values, out-of-range values and unseen categories, for customers and lines."""
    q = params["quality"]
    limits = q["limits"]
    rq = tuple(q["range_quantiles"])
    cust = params["drift"]["customers"]
    snaps = {
        "customers": quality_snapshot(
            ref_customers, cur_customers, cust["numeric"], cust.get("categorical", []), rq
        ),
        "lines": quality_snapshot(
            ref_lines, cur_lines, q["lines"]["numeric"], q["lines"]["categorical"], rq
        ),
    }
    refs = {"customers": ref_customers, "lines": ref_lines}
    table = pd.concat(
        [quality_table(s, name, limits, refs[name]) for name, s in snaps.items()],
        ignore_index=True,
    )
    failed = table[~table["ok"]]
    for row in failed.itertuples():
        log.warning(
            "data quality: %s.%s %s share %.3f > %.3f",
            row.table,
            row.column,
            row.check,
            row.share,
            row.limit,
        )
    c, li = snaps["customers"], snaps["lines"]
    dumps = {"quality_customers": c.dumps(), "quality_lines": li.dumps()}
    return (
        c.get_html_str(as_iframe=False),
        _json(c),
        li.get_html_str(as_iframe=False),
        _json(li),
        table,
        dumps,
    )


def prediction_drift(
    recommendations: pd.DataFrame,
    ref_lines: pd.DataFrame,
    cur_lines: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[str, str, pd.DataFrame, dict[str, str], dict[str, Any]]:
    """Top score and recommended-item popularity of the served model, reference vs current."""
    p = params["predictions"]
    empty_table = pd.DataFrame(columns=["column", "statistic", "threshold", "drifted", "report"])
    if recommendations.empty or "candidate" not in recommendations:
        reason = "recommendations_test is absent (run the recommender pipeline first)"
        log.info("prediction drift skipped: %s", reason)
        html = f"<html><body><p>Prediction drift skipped: {reason}.</p></body></html>"
        return html, json.dumps({"skipped": reason}), empty_table, {}, {"skipped": reason}
    ref = prediction_frame(recommendations, ref_lines, p["candidate"], int(p["k"]))
    cur = prediction_frame(recommendations, cur_lines, p["candidate"], int(p["k"]))
    if len(ref) < int(p["min_users"]) or len(cur) < int(p["min_users"]):
        reason = f"too few recommended users in a window ({len(ref)} / {len(cur)})"
        log.info("prediction drift skipped: %s", reason)
        html = f"<html><body><p>Prediction drift skipped: {reason}.</p></body></html>"
        return html, json.dumps({"skipped": reason}), empty_table, {}, {"skipped": reason}
    drift = params["drift"]
    spec = ColumnSpec(numeric=PREDICTION_COLUMNS, winsorize=tuple(drift["winsorize"]))
    assessment = assess_drift(ref, cur, spec, DriftConfig.from_params(drift))
    snapshot = drift_snapshot(assessment, float(drift["report_drift_share"]))
    log.info("prediction drift: %s", ", ".join(assessment.drifted) or "none")
    summary = {
        "share": assessment.share,
        "count": len(assessment.drifted),
        "columns": assessment.drifted,
    }
    return (
        snapshot.get_html_str(as_iframe=False),
        _json(snapshot),
        assessment.table.assign(report="predictions"),
        {"prediction_drift": snapshot.dumps()},
        summary,
    )


def retrain_signal(
    drift_summary: dict[str, Any],
    prediction_summary: dict[str, Any],
    quality: pd.DataFrame,
    holdout: dict[str, float],
    windows: dict[str, str],
    params: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str], dict[str, dict[str, float]]]:
    """The ``retrain_recommended`` record, its MLflow tags and the ``drift/*`` metrics."""
    shares = {"customers": drift_summary["share"]}
    columns = {"customers": drift_summary["columns"]}
    if "share" in prediction_summary:
        shares["predictions"] = prediction_summary["share"]
        columns["predictions"] = prediction_summary["columns"]
    record = retrain_decision(shares, columns, holdout, params["retrain"])
    record["windows"] = windows
    record["quality_warnings"] = [
        f"{r.table}.{r.column} {r.check} share {r.share:.3f} > {r.limit:.3f}"
        for r in quality[~quality["ok"]].itertuples()
    ]
    record["prediction_drift_skipped"] = prediction_summary.get("skipped")
    if record["retrain_recommended"]:
        log.warning("RETRAIN RECOMMENDED: %s", "; ".join(record["reasons"]))
    else:
        log.info("retrain not needed: drift and hold-out metric within limits")
    tags = {
        "retrain_recommended": str(record["retrain_recommended"]).lower(),
        "retrain_reasons": "; ".join(record["reasons"])[:4000] or "none",
        "monitoring_reference": windows["reference"],
        "monitoring_current": windows["current"],
    }
    metrics = {
        "drift/customers_share": _metric(drift_summary["share"]),
        "drift/customers_count": _metric(drift_summary["count"]),
        "drift/quality_failures": _metric(int((~quality["ok"]).sum())),
        "drift/retrain_recommended": _metric(int(record["retrain_recommended"])),
    }
    if "share" in prediction_summary:
        metrics["drift/predictions_share"] = _metric(prediction_summary["share"])
        metrics["drift/predictions_count"] = _metric(prediction_summary["count"])
    return record, tags, metrics


def workspace_runs(
    drift_dump: str,
    quality_dumps: dict[str, str],
    prediction_dumps: dict[str, str],
    windows: dict[str, str],
) -> dict[str, str]:
    """Name every snapshot by report and windows for the Evidently project's history."""
    dumps = {"data_drift": drift_dump, **quality_dumps, **prediction_dumps}
    suffix = f"{windows['reference']} vs {windows['current']}"
    return {f"{name}: {suffix}": d for name, d in dumps.items()}
