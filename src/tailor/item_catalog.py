"""The item catalog derived from transaction lines (and an items table when given)."""

from __future__ import annotations

import re

import pandas as pd

from tailor.frame_utils import modal_by

# Anything but letters and digits of any script ("subclass 590507", "crème brûlée", "茶碗").
_NOT_WORD = re.compile(r"[\W_]+")


def clean_text(text: pd.Series) -> pd.Series:
    """Lower-case letters and digits of any script, single-spaced: ready for TF-IDF.

    Codes are words too: grocery exports describe items by class numbers, and an
    ASCII-only rule would erase every non-English name.
    """
    return (
        text.fillna("").astype(str).str.lower().str.replace(_NOT_WORD, " ", regex=True).str.strip()
    )


def head_noun_category(text: pd.Series, min_items: int, stopwords: list[str]) -> pd.Series:
    """Category from the last meaningful word of a description ('… t light holder' → holder).

    Gift-shop descriptions end with what the item is; words naming fewer than ``min_items``
    items fall into 'other' so categories stay usable groups.
    """
    stop = set(stopwords)
    words = text.str.split().map(
        lambda ws: next(
            (w for w in reversed(ws) if len(w) >= 3 and w not in stop and not w.isdigit()),
            "other",
        )
    )
    counts = words.value_counts()
    return words.where(words.map(counts) >= min_items, "other")


def build_catalog(
    lines: pd.DataFrame,
    items: pd.DataFrame | None,
    min_category_items: int,
    category_stopwords: list[str],
) -> pd.DataFrame:
    """One row per item sold: id, description, text, modal price, category, demand counts."""
    stats = lines.groupby("item_id").agg(
        n_orders=("order_id", "nunique"),
        n_buyers=("user_id", "nunique"),
        units=("quantity", "sum"),
    )
    stats["price"] = modal_by(lines, "item_id", "unit_price")
    if "description" in lines:
        stats["description"] = modal_by(
            lines.dropna(subset=["description"]), "item_id", "description"
        )
    else:
        stats["description"] = None
    return finish_catalog(stats, items, min_category_items, category_stopwords)


def finish_catalog(
    stats: pd.DataFrame,
    items: pd.DataFrame | None,
    min_category_items: int,
    category_stopwords: list[str],
) -> pd.DataFrame:
    """Per-item stats (index item_id) → the catalog: a given items table wins, then text
    and category; shared by the pandas and Spark engines (which aggregate lines their way)."""
    if items is not None and not items.empty:
        given = items.drop_duplicates("item_id").set_index("item_id")
        for col in ("description", "price", "category"):
            if col in given:
                stats[col] = (
                    given[col]
                    .reindex(stats.index)
                    .combine_first(
                        stats[col] if col in stats else pd.Series(index=stats.index, dtype=object)
                    )
                )
    stats["description"] = stats["description"].fillna(stats.index.to_series())
    stats["text"] = clean_text(stats["description"])
    if "category" not in stats or stats["category"].isna().all():
        stats["category"] = head_noun_category(
            stats["text"], min_category_items, category_stopwords
        )
    stats["category"] = stats["category"].fillna("other")
    cols = ["description", "text", "category", "price", "n_orders", "n_buyers", "units"]
    return (
        stats[cols].rename_axis("item_id").reset_index().sort_values("item_id", ignore_index=True)
    )


def items_known_by(items: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    """The catalog as it stood at the end of ``interactions``: items sold by then.

    The derived catalog lists every item ever sold; an item first sold after a cutoff must
    be neither rankable nor counted in coverage for a model trained before it.
    """
    return items[items["item_id"].isin(interactions["item_id"])].reset_index(drop=True)


def buyers_per_item(lines: pd.DataFrame, items: pd.Series | None = None) -> pd.Series:
    """Distinct buyers of each item in ``lines`` (item ids as text): the one popularity count
    (rankable items, evaluation's popularity bins and novelty). ``items``: reindexed to
    these ids, 0 for items nobody bought."""
    buyers = lines.astype({"item_id": str}).groupby("item_id")["user_id"].nunique()
    if items is None:
        return buyers
    return buyers.reindex(items.astype(str), fill_value=0)
