"""The forecasting report: what is served for each overall target, how it did on the
hold-out against the baselines, and whether its interval could be calibrated at all."""

from __future__ import annotations

import pandas as pd

from tailor.evaluation.report import markdown_table

SEEN = (
    "Interval: calibrated. The history holds the hold-out's weeks a year earlier, so the "
    "backtest has seasonal-origin folds and the interval was calibrated on the folds nearest "
    "in season."
)
UNSEEN = (
    "**Season not seen in training.** No earlier year in the history holds the hold-out's "
    "weeks, so no fold could check a forecast or its interval on this season: the interval "
    "is **uncalibrated** (a band from other seasons' errors), and a seasonal peak may be "
    "missed. More history (a year before the season) is what would fix it."
)
COLUMNS = ["model", "served", "mase", "bias", "coverage", "width", "interval"]


def forecast_markdown(
    results: pd.DataFrame, windows: dict, next_purchase: pd.DataFrame | None = None
) -> str:
    """Markdown page (data/08_reporting/forecast_report.md) from ``forecast_results``."""
    overall = results[(results["segment"] == "all") & (results["window"] == "holdout")]
    seen = bool(overall["season_seen"].iloc[0]) if len(overall) else False
    lines = [
        "# Forecasting report",
        "",
        f"Hold-out {windows['holdout_start']} .. {windows['holdout_end']} "
        f"({windows['horizon_days']} days); {len(windows['seasonal_origins'])} seasonal-origin "
        f"and {windows['n_folds']} recent validation folds.",
        "",
        SEEN if seen else UNSEEN,
        "",
    ]
    for target, part in overall.groupby("target", sort=False):
        served = part[part["served"]].iloc[0]
        naive = part[part["model"] == "seasonal_naive"]
        best = part.loc[part["mase"].idxmin()]
        lines += [
            f"## Daily {target}",
            "",
            f"Served: **{served['model']}**, hold-out MASE {served['mase']:.3f} "
            + (f"(seasonal naive {naive['mase'].iloc[0]:.3f}; " if len(naive) else "(")
            + f"best of the run {best['model']} {best['mase']:.3f}), 80% interval covers "
            f"{served['coverage']:.2f} of trading days"
            + ("." if seen else " (uncalibrated: the season was not seen)."),
            "",
            markdown_table(part.sort_values("mase")[COLUMNS], digits=3),
            "",
        ]
    if next_purchase is not None and len(next_purchase):
        np_ = next_purchase
        test = np_[(np_["window"] == "test") & (np_["segment"] == "all")]
        auc = [c for c in test.columns if c.startswith("auc_")]
        lines += [
            "## Next purchase (test, as of the cut-off)",
            "",
            markdown_table(test[["model", "served", "mae_uncensored", "c_index", *auc, "n"]], 3),
            "",
        ]
    return "\n".join(lines) + "\n"
