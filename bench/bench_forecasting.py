"""The forecasting pipeline on the default data (`python bench/bench_forecasting.py`).

One real `kedro run --pipeline forecasting` in the checkout (it needs the data_engineering
and segmentation outputs there), timed (wall, pipeline and CPU seconds), then its tables:
every demand model on the validation folds and the 8-week hold-out (served model marked,
baselines measured in the same run), next-purchase timing and replenishment, each against
the issue's reference numbers. The table is written to bench/RESULTS.md and echoed for
docs/forecasting.md.
"""

from __future__ import annotations

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

REPORTING = ROOT / "data" / "08_reporting"
# the reference implementation on the same data and hold-out
REFERENCE = {
    "orders": "AutoETS MAE 24.8, sMAPE 29.0, MASE 1.68",
    "revenue": "Prophet on open days MAE 12,641, sMAPE 25.9, MASE 1.13",
}
NEXT_PURCHASE_REFERENCE = {"mae_uncensored": 21.1, "c_index": 0.79, "auc_30d": 0.683}


def run_pipeline() -> tuple[float, float, float]:
    """(wall s, pipeline s as kedro reports it, CPU s of the run and its children)."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(
        [str(KEDRO), "run", "--pipeline", "forecasting"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
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
    return wall, float(found[-1]) if found else float("nan"), cpu


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
                "val MASE": fmt(val["mase"], 3),
                "hold-out MAE": fmt(hold["mae"]),
                "bias": fmt(hold["bias"]),
                "sMAPE %": fmt(hold["smape"], 1),
                "MASE": fmt(hold["mase"], 3),
            }
        )
    return markdown_table(rows)


def served_vs_baselines(results: pd.DataFrame) -> str:
    hold = results[(results["segment"] == "all") & (results["window"] == "holdout")]
    lines = []
    for target, part in hold.groupby("target"):
        served = part[part["served"]].iloc[0]
        others = part[
            ~part["served"] & part["model"].isin(["seasonal_naive", "autoets", "autoarima"])
        ]
        best = others.loc[others["mase"].idxmin()]
        gap = served["mase"] - best["mase"]
        verdict = "beats every baseline" if gap < 0 else f"falls short by {gap:.3f} MASE"
        lines.append(
            f"- {target}: served `{served['model']}` hold-out MASE {served['mase']:.3f} vs best "
            f"baseline `{best['model']}` {best['mase']:.3f}: {verdict} "
            f"(reference: {REFERENCE[target]})."
        )
    return "\n".join(lines)


def segment_table(results: pd.DataFrame) -> str:
    seg = results[(results["segment"] != "all") & (results["window"] == "holdout")]
    wide = seg.pivot_table(index=["target", "segment"], columns="model", values="mase")
    wide["served"] = seg[seg["served"]].set_index(["target", "segment"])["model"]
    wide = wide.reset_index()
    rows = [
        {k: (fmt(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
        for r in wide.to_dict("records")
    ]
    return markdown_table(rows)


def next_purchase_table(table: pd.DataFrame) -> str:
    overall = table[table["segment"] == "all"]
    rows = [
        {
            "model": f"**{r['model']}** (served)" if r["served"] else r["model"],
            "customers": int(r["n"]),
            "bought again": int(r["n_events"]),
            "MAE days (uncensored)": fmt(r["mae_uncensored"]),
            "C-index gap": fmt(r["c_index_gap"], 3),
            "C-index from cutoff": fmt(r["c_index"], 3),
            "AUC 30 d": fmt(r["auc_30d"], 3),
        }
        for r in overall.to_dict("records")
    ]
    rows.append(
        {
            "model": "reference (issue)",
            "customers": "",
            "bought again": "",
            "MAE days (uncensored)": "21.1",
            "C-index gap": "0.79",
            "C-index from cutoff": "",
            "AUC 30 d": "0.683",
        }
    )
    return markdown_table(rows)


def main() -> None:
    wall, pipeline, cpu = run_pipeline()
    results = pd.read_csv(REPORTING / "forecast_results.csv")
    nxt = pd.read_csv(REPORTING / "next_purchase_evaluation.csv")
    repl = pd.read_csv(REPORTING / "replenishment_evaluation.csv")
    body = f"""
Default data, hold-out 2011-10-15 .. 2011-12-09 (48 trading days scored), served model
chosen on the rolling-origin validation folds inside the training window only.

**Time:** `kedro run --pipeline forecasting` with tuning: {wall:.0f} s wall (pipeline
{pipeline:.0f} s as Kedro reports it; {cpu:.0f} s CPU) on the shared 2-core machine.

**Demand, overall** (MASE scaled by the in-sample weekly seasonal naive on trading days;
bias = mean forecast − actual):

{demand_table(results)}

{served_vs_baselines(results)}

**Demand per rule segment** (hold-out MASE; served = the overall served model kind):

{segment_table(results)}

**Next purchase** (trained on snapshots up to the validation cutoff, tested at the cutoff
2011-09-09; censored customers kept; "gap" = days since the last purchase):

{next_purchase_table(nxt)}

**Replenishment** (candidates at the cutoff, bought again within 30 days):

{markdown_table(repl.round(3).to_dict("records"))}
"""
    write_section(
        "forecasting", "Forecasting (default data)", body, "python bench/bench_forecasting.py"
    )
    print(body)


if __name__ == "__main__":
    main()
