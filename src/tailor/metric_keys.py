"""Names that can sit inside an MLflow metric key (``forecast/orders_seg_<slug>/...``)."""

from __future__ import annotations

import re

_NOT_KEY = re.compile(r"[^a-z0-9]+")


def slug(text: object) -> str:
    """A metric-key-safe name: 'High-Value Loyalists' -> 'high_value_loyalists'.

    One spelling for every pipeline, so a segment's keys line up across runs and pipelines.
    """
    return _NOT_KEY.sub("_", str(text).lower()).strip("_") or "none"
