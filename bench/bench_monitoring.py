"""Monitoring on the default data: report time and false alarms.

Run: `python bench/bench_monitoring.py`.

1. Time of the monitoring nodes (windows, drift, quality, prediction drift, signal) on the
   default data with the shipped parameters, median of --repeats; baseline in the same run:
   Evidently's DataDriftPreset with its defaults on the raw features of the same windows.
2. False alarms: 10 random customer half-splits of Dec 2010–May 2011, and the seasonal
   comparison Dec 2010–May 2011 vs Jun–Nov 2011, for Evidently's defaults and for Tailor.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

from bench.results import markdown_table, write_section  # noqa: E402
from tailor.monitoring.drift import DriftConfig, assess_drift  # noqa: E402
from tailor.monitoring.robust import ColumnSpec  # noqa: E402
from tailor.monitoring.windows import Window, window_customer_features  # noqa: E402
from tailor.pipelines.monitoring import nodes  # noqa: E402

NINE = [  # the customer columns of the "2 of 9" observation
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "basket_size",
    "basket_units",
    "interval_median",
    "n_items",
    "country",
]


def load_inputs() -> tuple[pd.DataFrame, dict, dict]:
    conf = ROOT / "conf/base"
    params = yaml.safe_load((conf / "parameters_monitoring.yml").read_text())["monitoring"]
    split = yaml.safe_load((conf / "parameters.yml").read_text())["split"]
    # the default data's own reference window, as `make run` (--env online_retail) uses it
    retail = yaml.safe_load((ROOT / "conf/online_retail/parameters.yml").read_text())
    params["reference"] = {**(params.get("reference") or {}), **retail["monitoring"]["reference"]}
    built = ROOT / "data/02_intermediate/customer_lines.parquet"
    if built.exists():
        lines = pd.read_parquet(built)
    else:  # a fresh checkout: clean the shipped raw data the project's way
        sys.path.insert(0, str(ROOT / "tests/pipelines/monitoring"))
        from tests.pipelines.monitoring.conftest import default_customer_lines

        lines = default_customer_lines.__wrapped__()
    return lines, params, split


def time_reports(lines: pd.DataFrame, params: dict, split: dict) -> dict[str, float]:
    empty = pd.DataFrame()
    recs_path = ROOT / "data/07_model_output/recommendations_test.parquet"
    recs = pd.read_parquet(recs_path) if recs_path.exists() else empty
    t = {}
    t0 = time.perf_counter()
    ref_c, cur_c, ref_l, cur_l, windows = nodes.build_windows(
        lines, empty, empty, empty, empty, split, params
    )
    t["windows + features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    *_, drift_summary = nodes.data_drift(ref_c, cur_c, params)
    t["data drift"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    quality = nodes.data_quality(ref_c, cur_c, ref_l, cur_l, params)[4]
    t["data quality"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    *_, pred_summary = nodes.prediction_drift(recs, ref_l, cur_l, params)
    t["prediction drift" + (" (skipped: no recommendations)" if recs.empty else "")] = (
        time.perf_counter() - t0
    )
    nodes.retrain_signal(drift_summary, pred_summary, quality, {}, windows, params)
    t["total"] = sum(t.values())
    t0 = time.perf_counter()
    cols = [c for c in [*NINE, "unit_price", "tenure_days"] if c in ref_c]
    Report([DataDriftPreset()]).run(cur_c[cols], ref_c[cols]).get_html_str(as_iframe=False)
    t["baseline: Evidently defaults, drift report only"] = time.perf_counter() - t0
    return t


def evidently_default_flags(
    ref: pd.DataFrame, cur: pd.DataFrame, cols: list[str]
) -> tuple[int, list[str]]:
    """Evidently's DriftedColumnsCount, and the columns whose ValueDrift passes its threshold
    (the default methods here, Wasserstein and Jensen-Shannon, are distances)."""
    count, names = 0, []
    for m in Report([DataDriftPreset()]).run(cur[cols], ref[cols]).dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            count = int(m["value"]["count"])
        elif cfg["type"].endswith("ValueDrift") and m["value"] >= cfg["threshold"]:
            names.append(cfg["column"])
    return count, names


def training_window_features(lines: pd.DataFrame, split: dict) -> pd.DataFrame:
    """Point-in-time features as of the cutoff from all history (as customer_features_train)."""
    start = Window(lines["ts"].min().normalize(), pd.Timestamp(split["cutoff"]))
    return window_customer_features(lines, start, start.days)


def false_alarms(
    lines: pd.DataFrame, params: dict, split: dict
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    first = Window(pd.Timestamp("2010-12-01"), pd.Timestamp("2011-05-31"))
    second = Window(pd.Timestamp("2011-06-01"), pd.Timestamp("2011-11-30"))
    ref = window_customer_features(lines, first, first.days)
    cur = window_customer_features(lines, second, second.days)
    return _alarm_rows(ref, cur, params), _alarm_rows(
        training_window_features(lines, split), None, params
    )


def _alarm_rows(
    ref: pd.DataFrame, cur: pd.DataFrame | None, params: dict
) -> list[dict[str, object]]:
    drift = params["drift"]
    spec, cfg = ColumnSpec.from_params(drift["customers"], drift), DriftConfig.from_params(drift)
    users = ref["user_id"].unique()
    res: dict[str, list[tuple[int, list[str]]]] = {"evidently": [], "tailor": []}
    for seed in range(10):
        half = np.random.default_rng(1000 + seed).permutation(users)[: len(users) // 2]
        a, b = ref[ref["user_id"].isin(half)], ref[~ref["user_id"].isin(half)]
        res["evidently"].append(evidently_default_flags(a, b, NINE))
        tailor = assess_drift(a, b, spec, cfg).drifted
        res["tailor"].append((len(tailor), tailor))
    seasonal = {
        "evidently": evidently_default_flags(ref, cur, NINE)[1] if cur is not None else [],
        "tailor": assess_drift(ref, cur, spec, cfg).drifted if cur is not None else [],
    }
    rows = []
    for name, label, n_cols in (
        ("evidently", "Evidently defaults (raw features)", len(NINE)),
        (
            "tailor",
            "Tailor (robust features, calibrated thresholds)",
            len(spec.present(ref).columns),
        ),
    ):
        flagged = res[name]
        counts = pd.Series([c for _, f in flagged for c in f]).value_counts()
        rows.append(
            {
                "method": label,
                "columns": n_cols,
                "half-splits with a drifted column (of 10)": sum(n > 0 for n, _ in flagged),
                "mean drifted columns per split": f"{np.mean([n for n, _ in flagged]):.1f}",
                "columns over their threshold (splits)": ", ".join(
                    f"{c} ×{n}" for c, n in counts.items()
                )
                or "—",
            }
        )
        if cur is not None:
            rows[-1]["Dec–May vs Jun–Nov flagged"] = ", ".join(seasonal[name])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    lines, params, split = load_inputs()
    runs = [time_reports(lines, params, split) for _ in range(args.repeats)]
    timing = [
        {"step": k, "median s": f"{statistics.median(r[k] for r in runs):.1f}"} for k in runs[0]
    ]
    total = statistics.median(r["total"] for r in runs)
    alarms, train_alarms = false_alarms(lines, params, split)
    body = (
        f"Reports on the default data (reference 2011-01-01..2011-06-30, current = last 91 "
        f"days), in-process nodes, median of {args.repeats}: **{total:.1f} s** (limit 60 s; "
        "`kedro run --pipeline monitoring` adds start-up and MLflow logging).\n\n"
        + markdown_table(timing)
        + "\n\nFalse alarms: 10 random customer half-splits of Dec 2010–May 2011 (seeds "
        "1000–1009) and the seasonal comparison with Jun–Nov 2011.\n\n"
        + markdown_table(alarms)
        + "\n\nThe same kind of half-splits of the training-window features (all history up to "
        "the cutoff 2011-09-09, as `customer_features_train`):\n\n"
        + markdown_table(train_alarms)
        + "\n\nEvidently's count (DriftedColumnsCount) and its per-column ValueDrift values can"
        " disagree on columns with missing values (interval_median): both are shown."
    )
    write_section(
        "monitoring",
        "Monitoring: report time and false alarms (default data)",
        body,
        f"python bench/bench_monitoring.py --repeats {args.repeats}",
    )
    print(body)


if __name__ == "__main__":
    main()
