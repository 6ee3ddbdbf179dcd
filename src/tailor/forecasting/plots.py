"""Forecast plots: recent history, hold-out truth and the forecasts with the served interval."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def forecast_figure(
    history: pd.DataFrame,
    holdout: pd.DataFrame,
    served: str,
    title: str,
    history_days: int,
    note: str | None = None,
) -> Figure:
    """One target: the last ``history_days`` of history, the truth and every model.

    ``holdout`` is the long hold-out table of one target (model, date, yhat, yhat_lower,
    yhat_upper, y, trading); the served model is drawn thick with its interval. ``note`` is
    written on the plot (e.g. that the season ahead was never seen in training).
    """
    fig, ax = plt.subplots(figsize=(11, 4.5))
    recent = history[history["date"] > history["date"].max() - pd.Timedelta(days=history_days)]
    recent = recent[recent["trading"]]
    ax.plot(recent["date"], recent["y"], color="0.45", lw=1, label="history (trading days)")
    truth = holdout[holdout["model"] == served]
    truth = truth[truth["trading"]]
    ax.plot(truth["date"], truth["y"], color="black", lw=1.4, marker=".", label="hold-out truth")
    for model, part in holdout.groupby("model", sort=False):
        part = part[part["trading"]]
        if model == served:
            ax.fill_between(
                part["date"], part["yhat_lower"], part["yhat_upper"], color="C3", alpha=0.2
            )
            ax.plot(part["date"], part["yhat"], color="C3", lw=2.2, label=f"{model} (served)")
        else:
            ax.plot(part["date"], part["yhat"], lw=0.9, alpha=0.8, label=str(model))
    ax.set_title(title)
    if note:
        box = {"facecolor": "white", "alpha": 0.8, "edgecolor": "C3"}
        ax.text(0.99, 0.02, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                color="C3", bbox=box)  # fmt: skip
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
