"""Rule-based segments defined in parameters: the first matching rule, in priority order, wins.

A rule is ``{name, description, conditions: [{feature, op, value | quantile}]}``; all of its
conditions must hold. ``feature`` is a column or an arithmetic expression of columns
(``frequency / n_sessions``); ``quantile`` thresholds are taken on the snapshot being
segmented. A rule that refers to a column the data does not have (e.g. event features on
shop data without a clickstream) is skipped, and every customer left over gets the fallback.
"""

from __future__ import annotations

import logging
import operator
from typing import Any

import pandas as pd

from tailor.segmentation.features import NAME, evaluate

log = logging.getLogger(__name__)

OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def referenced_columns(rule: dict[str, Any]) -> set[str]:
    return {name for cond in rule["conditions"] for name in NAME.findall(str(cond["feature"]))}


def applicable(rule: dict[str, Any], features: pd.DataFrame) -> bool:
    """True when every column the rule refers to exists and holds some values."""
    missing = [c for c in referenced_columns(rule) if c not in features or features[c].isna().all()]
    if missing:
        log.info("rule segment %r skipped: no %s in these data", rule["name"], missing)
    return not missing


def _condition(features: pd.DataFrame, cond: dict[str, Any]) -> pd.Series:
    values = evaluate(features, str(cond["feature"]))
    if "quantile" in cond:
        threshold = float(values.quantile(float(cond["quantile"])))
    else:
        threshold = float(cond["value"])
    if cond["op"] not in OPS:
        raise ValueError(f"unknown operator {cond['op']!r} in rule condition {cond}")
    return OPS[cond["op"]](values, threshold).fillna(False).astype(bool)


def assign_rule_segments(
    features: pd.DataFrame, rules: list[dict[str, Any]], fallback: str
) -> pd.Series:
    """One segment name per row of ``features``: the first applicable rule that matches."""
    segment = pd.Series(fallback, index=features.index, dtype=object)
    open_rows = pd.Series(True, index=features.index)
    for rule in rules:
        if not applicable(rule, features):
            continue
        match = pd.Series(True, index=features.index)
        for cond in rule["conditions"]:
            match &= _condition(features, cond)
        hit = match & open_rows
        segment[hit] = rule["name"]
        open_rows &= ~hit
    return segment


def describe_rules(rules: list[dict[str, Any]], fallback: str) -> pd.DataFrame:
    """The priority-ordered rule table for docs and the MLflow run."""
    rows = [
        {
            "priority": i + 1,
            "segment": r["name"],
            "description": r["description"],
            "conditions": " and ".join(
                f"{c['feature']} {c['op']} "
                + (f"q{c['quantile']:g}" if "quantile" in c else f"{c['value']:g}")
                for c in r["conditions"]
            ),
        }
        for i, r in enumerate(rules)
    ]
    rows.append(
        {"priority": len(rules) + 1, "segment": fallback, "description": "no rule matched",
         "conditions": "-"}
    )  # fmt: skip
    return pd.DataFrame(rows)
