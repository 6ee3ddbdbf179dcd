"""Daily series to forecast: overall from ``daily_demand``, per segment from the lines."""

from __future__ import annotations

import pandas as pd

TARGETS = ("orders", "revenue")


class SeriesTooShortError(ValueError):
    """Raised when a series has too few trading days to fit a weekly model."""


def check_length(history: pd.DataFrame, min_trading_days: int, name: str = "series") -> None:
    n = int(history["trading"].sum())
    if n < min_trading_days:
        raise SeriesTooShortError(
            f"{name}: {n} trading days of history, at least {min_trading_days} are needed "
            "(forecasting.demand.min_trading_days)"
        )


def overall_series(daily_demand: pd.DataFrame, target: str) -> pd.DataFrame:
    """(date, y, trading) for one target over every calendar day."""
    out = daily_demand[["date", target, "trading"]].rename(columns={target: "y"})
    out = out.assign(date=pd.to_datetime(out["date"]), y=out["y"].astype(float))
    return out.sort_values("date", ignore_index=True)


def segment_series(
    demand_lines: pd.DataFrame,
    segments: pd.DataFrame,
    segment_col: str,
    daily_demand: pd.DataFrame,
) -> dict[tuple[str, str], pd.DataFrame]:
    """Daily orders and revenue of each segment's customers, on the shop's calendar.

    Lines are joined to segments on user_id; anonymous customers and customers without a
    segment count in the overall series only. The trading flag is the shop's: a segment with
    no order on a trading day had zero demand, not a closed shop.
    """
    seg = segments[["user_id", segment_col]].astype({"user_id": str}).drop_duplicates("user_id")
    lines = demand_lines.dropna(subset=["user_id"]).astype({"user_id": str})
    lines = lines.merge(seg, on="user_id", how="inner")
    lines = lines.assign(
        date=lines["ts"].dt.normalize(), revenue=lines["quantity"] * lines["unit_price"]
    )
    agg = lines.groupby([segment_col, "date"]).agg(
        orders=("order_id", "nunique"), revenue=("revenue", "sum")
    )
    calendar = overall_series(daily_demand, "orders")[["date", "trading"]]
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for name, frame in agg.groupby(level=0):
        per_day = frame.droplevel(0)
        for target in TARGETS:
            y = per_day[target].reindex(pd.DatetimeIndex(calendar["date"]), fill_value=0.0)
            out[(str(name), target)] = calendar.assign(y=y.to_numpy(dtype=float))[
                ["date", "y", "trading"]
            ]
    return out
