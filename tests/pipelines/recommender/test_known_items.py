"""Items first sold after a cutoff are unknown to a model trained before it."""

from __future__ import annotations

import pandas as pd

from tailor.item_catalog import items_known_by


def test_only_items_sold_by_the_cutoff_are_rankable() -> None:
    catalog = pd.DataFrame({"item_id": ["A", "B", "C"], "text": ["a", "b", "c"]})
    train = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["C", "A"]})
    known = items_known_by(catalog, train)
    assert known["item_id"].tolist() == ["A", "C"]  # catalog order kept, B (sold later) gone
    assert list(known.columns) == ["item_id", "text"]
