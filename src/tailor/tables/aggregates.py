"""Line tables reduced where they live: item stats, daily demand, the time split, the
user-item matrix. Per-item and per-day results are small and finish in pandas."""

from __future__ import annotations

import ibis
import pandas as pd

from tailor.item_catalog import finish_catalog
from tailor.splits import validation_cutoff
from tailor.tables import backend as be
from tailor.tables.backend import ROW, left_join, ts_literal
from tailor.tables.features import modal_by


def build_catalog(
    lines: ibis.Table,
    items: pd.DataFrame | None,
    min_category_items: int,
    category_stopwords: list[str],
) -> pd.DataFrame:
    """One row per item sold: demand counts and modal price and description from the lines;
    an items table, the text and the category are added by :func:`finish_catalog`."""
    stats = lines.group_by("item_id").aggregate(
        n_orders=lines.order_id.nunique(),
        n_buyers=lines.user_id.nunique(),
        units=be.exact_sum(lines.quantity),
    )
    price = modal_by(lines, "item_id", "unit_price").rename(price="unit_price")
    stats = left_join(stats, price, "item_id")
    if "description" in lines.columns:
        desc = modal_by(lines, "item_id", "description")
        stats = left_join(stats, desc, "item_id")
    frame = stats.to_pandas().set_index("item_id").sort_index()
    if "description" not in frame:
        frame["description"] = None
    frame["description"] = (
        frame["description"].astype(object).where(frame["description"].notna(), None)
    )
    return finish_catalog(frame, items, min_category_items, category_stopwords)


def daily_demand(demand_lines: ibis.Table) -> pd.DataFrame:
    """Orders, revenue, units and customers per calendar day; days without trade are 0."""
    d = demand_lines.mutate(
        day=demand_lines.ts.truncate("D"),
        revenue=demand_lines.quantity * demand_lines.unit_price,
    )
    per_day = d.group_by("day").aggregate(
        orders=d.order_id.nunique(),
        revenue=be.exact_sum(d.revenue),
        units=be.exact_sum(d.quantity),
        customers=d.user_id.nunique(),
    )
    out = per_day.to_pandas()
    out["day"] = out["day"].astype("datetime64[ns]")
    out = out.set_index("day").sort_index()
    full = pd.date_range(out.index.min(), out.index.max(), freq="D", name="day")
    out = out.reindex(full, fill_value=0)
    out["trading"] = out["orders"] > 0
    return out.reset_index().rename(columns={"day": "date"})


LINE_COLUMNS = ["user_id", "item_id", "order_id", "ts", "quantity", "unit_price", "country"]


def interaction_lines(customer_lines: ibis.Table) -> ibis.Table:
    """The model-facing columns of customer lines (written in time order, ties as input)."""
    return customer_lines.select(*LINE_COLUMNS, ROW)


def split_interactions(
    interactions: ibis.Table, split: dict
) -> tuple[ibis.Table, ibis.Table, ibis.Table, ibis.Table, dict[str, dict[str, float]]]:
    """Train <= cutoff < test [<= test_end]; inside train fit <= validation cutoff < val."""
    ts = interactions.ts
    cutoff = ts_literal(split["cutoff"])
    val_cut = ts_literal(validation_cutoff(split["cutoff"], split["validation_days"]))
    after = ts > cutoff
    if split.get("test_end") is not None:
        after &= ts <= ts_literal(split["test_end"])
    parts = {
        "train": interactions.filter(ts <= cutoff),
        "test": interactions.filter(after),
        "fit": interactions.filter(ts <= val_cut),
        "validation": interactions.filter((ts > val_cut) & (ts <= cutoff)),
    }
    sizes = {
        name: part.aggregate(rows=part.count(), users=part.user_id.nunique())
        .to_pyarrow()
        .to_pylist()[0]
        for name, part in parts.items()
    }
    metrics = {}
    for name, size in sizes.items():
        metrics[f"data/{name}_rows"] = {"value": float(size["rows"]), "step": 0}
        metrics[f"data/{name}_users"] = {"value": float(size["users"] or 0), "step": 0}
    return parts["train"], parts["test"], parts["fit"], parts["validation"], metrics


def user_item_matrix(train: ibis.Table) -> ibis.Table:
    """The training interaction matrix in long form: one row per (user, item) pair."""
    return train.group_by(["user_id", "item_id"]).aggregate(
        n_orders=train.order_id.nunique(),
        quantity=be.exact_sum(train.quantity),
        last_ts=train.ts.max(),
    )
