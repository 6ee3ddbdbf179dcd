"""The forecasting pipeline on one data set (`python bench/bench_forecasting.py [--env ENV]`).

One real `kedro run --pipeline forecasting` in the checkout (it needs the data_engineering and
segmentation outputs of the same environment there), timed, then its tables: every demand
candidate on the validation folds (fold-weighted rank, the served-model rule) and on the
hold-out (MASE, 80 % interval coverage and width; seasonal naive and the best model of the
same run as the yardsticks), the per-segment served choices, next purchase (chosen on
validation MAE among the AFT model, BG/NBD and two baselines) and replenishment. `--no-run` only
tabulates the outputs of the last run. Tables go to bench/RESULTS.md, one section per env.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import markdown_table, write_section  # noqa: E402
from tests.conftest import ENV, KEDRO  # noqa: E402

DATA_DIRS = {
    "base": "data",
    "online_retail": "data",
    "synthetic": "data/synthetic",
    "complete_journey": "data/complete_journey",
}


def run_pipeline(env: str) -> str:
    """Run the pipeline; a line with wall, pipeline (as Kedro reports it) and CPU seconds."""
    before = os.times()
    start = time.perf_counter()
    args = [str(KEDRO), "run", "--pipeline", "forecasting"]
    if env != "base":
        args += ["--env", env]
    proc = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"kedro run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    found = re.findall(
        r"successfully in ([\d.]+) sec", " ".join((proc.stdout + proc.stderr).split())
    )
    cpu = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    pipeline = float(found[-1]) if found else float("nan")
    return (
        f"**Time:** `kedro run --pipeline forecasting{'' if env == 'base' else ' --env ' + env}`"
        f" with tuning: {wall:.0f} s wall (pipeline {pipeline:.0f} s as Kedro reports it; "
        f"{cpu:.0f} s CPU of child processes) on the shared 2-core machine."
    )


def fmt(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}" if abs(x) < 1000 else f"{x:,.0f}"


def demand_table(results: pd.DataFrame) -> str:
    rows = []
    overall = results[results["segment"] == "all"]
    for (target, model), part in overall.groupby(["target", "model"], sort=False):
        val = part[part["window"] == "validation"].iloc[0]
        hold = part[part["window"] == "holdout"].iloc[0]
        rows.append(
            {
                "target": target,
                "model": f"**{model}** (served)" if hold["served"] else model,
                "val rank": fmt(val["weighted_rank"]),
                "val MASE": fmt(val["mase"], 3),
                "folds won": int(val["folds_won"]),
                "hold-out MASE": fmt(hold["mase"], 3),
                "bias": fmt(hold["bias"]),
                "80 % coverage": fmt(hold["coverage"]),
                "width / scale": fmt(hold["width_scaled"]),
                "interval": hold["interval"],
            }
        )
    return markdown_table(rows)


def done_when(results: pd.DataFrame, segment: str = "all") -> list[dict]:
    """Issue 23's figures per target: served vs seasonal naive and vs the best of the run."""
    hold = results[(results["segment"] == segment) & (results["window"] == "holdout")]
    rows = []
    for target, part in hold.groupby("target"):
        served = part[part["served"]].iloc[0]
        best = part.loc[part["mase"].idxmin()]
        naive = part[part["model"] == "seasonal_naive"].iloc[0]
        ratio = served["mase"] / best["mase"]
        ok = served["mase"] < naive["mase"] and ratio <= 1.10
        ok_cov = 0.65 <= served["coverage"] <= 0.95
        rows.append(
            {
                "target": target if segment == "all" else f"{target} / {segment}",
                "served": served["model"],
                "served MASE": fmt(served["mase"], 3),
                "seasonal naive": fmt(naive["mase"], 3),
                "best (model)": f"{best['mase']:.3f} ({best['model']})",
                "served / best": fmt(ratio),
                "MASE target met": "yes"
                if ok
                else ("no (baseline served)" if served["model"] == "seasonal_naive" else "**no**"),
                "coverage": fmt(served["coverage"]),
                "65-95 %": "yes" if ok_cov else "**no**",
            }
        )
    return rows


def segment_table(results: pd.DataFrame) -> str:
    segments = sorted(set(results["segment"]) - {"all"})
    rows = [r for s in segments for r in done_when(results, s)]
    return markdown_table(rows) if rows else "(no segment series)"


def next_purchase_table(table: pd.DataFrame) -> str:
    overall = table[table["segment"] == "all"]
    val = overall[overall["window"] == "validation"].set_index("model")
    rows = []
    for r in overall[overall["window"] == "test"].to_dict("records"):
        rows.append(
            {
                "model": f"**{r['model']}** (served)" if r["served"] else r["model"],
                "val MAE": fmt(val.loc[r["model"], "mae_uncensored"])
                if r["model"] in val.index
                else "",
                "customers": int(r["n"]),
                "bought again": int(r["n_events"]),
                "test MAE days (returners)": fmt(r["mae_uncensored"]),
                "C-index": fmt(r["c_index"], 3),
                "C-index gap": fmt(r["c_index_gap"], 3),
                "AUC 30 d": fmt(r["auc_30d"], 3),
            }
        )
    return markdown_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", default="online_retail")
    parser.add_argument("--no-run", action="store_true", help="tabulate the last run only")
    args = parser.parse_args()
    timing = "" if args.no_run else run_pipeline(args.env)
    reporting = ROOT / DATA_DIRS.get(args.env, f"data/{args.env}") / "08_reporting"
    results = pd.read_csv(reporting / "forecast_results.csv")
    windows = json.loads((reporting / "forecast_windows.json").read_text())
    nxt = pd.read_csv(reporting / "next_purchase_evaluation.csv")
    repl = pd.read_csv(reporting / "replenishment_evaluation.csv")
    n_days = int(
        results[(results["segment"] == "all") & (results["window"] == "holdout")]["n_days"].iloc[0]
    )
    degraded = f" (degraded: {'; '.join(windows['warnings'])})" if windows["warnings"] else ""
    seasonal = windows.get("seasonal_origins", [])
    season = (
        "The hold-out's weeks a year earlier are in the data (`season_seen`): "
        f"{len(seasonal)} seasonal-origin fold(s) from {', '.join(seasonal) or '–'}; "
        "the interval is calibrated on the folds nearest in season."
        if windows.get("season_seen")
        else "**Season not seen**: the hold-out's weeks a year earlier are not in the data, "
        "so the served interval is labelled uncalibrated."
    )
    body = f"""
Environment `{args.env}`: hold-out {windows["holdout_start"]} .. {windows["holdout_end"]}
({n_days} trading days scored), {windows["n_folds"]} recent validation folds of
{windows["horizon_days"]} days, {windows["fold_step_days"]} days apart{degraded}.
{season}
The served model is chosen on the folds only (lowest fold-weighted mean rank).

{timing}

**Demand, overall** (MASE scaled by the in-sample weekly seasonal naive on trading days;
bias = mean forecast − actual; interval = the model's own or conformal):

{demand_table(results)}

**Issue 23's figures** (served hold-out MASE below seasonal naive's and ≤ 1.10 × the best
model of the run; 80 % interval coverage in 65–95 %):

{markdown_table(done_when(results))}

**Per rule segment** (the same rule on the segment candidates):

{segment_table(results)}

**Next purchase** (served = lowest validation MAE on returners; test at the split cut-off,
censored customers kept; BG/NBD is the CLV baseline, issue 23: served MAE ≤ 1.05 × the best,
AUC 30 d ≥ BG/NBD's):

{next_purchase_table(nxt)}

**Replenishment** (candidates at the cutoff, bought again within 30 days):

{markdown_table(repl.round(3).to_dict("records"))}
"""
    write_section(
        f"forecasting-{args.env}",
        f"Forecasting ({args.env})",
        body,
        f"python bench/bench_forecasting.py --env {args.env}",
    )
    print(body)


if __name__ == "__main__":
    main()
