"""The data contract: canonical tables, their pandera schemas, and raw-to-canonical mapping.

A user's own data arrives with its own column names; ``conform_table`` renames them
(mapping from parameters), checks the table is usable and coerces types. Every failure
raises :class:`DataContractError` naming the table, the column and the problem, so a bad
input stops the run before any node writes an output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

EVENT_TYPES = ("view", "add_to_cart", "search", "purchase")
CHANNELS = ("web", "app")


class DataContractError(ValueError):
    """Raised when an input table breaks the data contract."""


def _str(nullable: bool = False, required: bool = True, **kw: object) -> pa.Column:
    # Text columns are turned into strings by ``_as_text`` before validation: pandera's own
    # per-element ``str`` check costs minutes on ten million rows, a dtype check nothing.
    return pa.Column(object, nullable=nullable, required=required, coerce=False, **kw)


def _float(nullable: bool = False, required: bool = True) -> pa.Column:
    return pa.Column(float, nullable=nullable, required=required, coerce=True)


def _ts(nullable: bool = False, required: bool = True) -> pa.Column:
    return pa.Column("datetime64[ns]", nullable=nullable, required=required, coerce=True)


def _bool(required: bool = True) -> pa.Column:
    return pa.Column(bool, nullable=False, required=required, coerce=True)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "transactions": pa.DataFrameSchema(
        {
            "order_id": _str(),
            "user_id": _str(nullable=True),
            "item_id": _str(),
            "quantity": _float(),
            "unit_price": _float(),
            "ts": _ts(),
            # optional: a shop in one country need not say so (missing = null everywhere)
            "country": _str(nullable=True, required=False),
            "description": _str(nullable=True, required=False),
        },
        name="transactions",
    ),
    "users": pa.DataFrameSchema(
        {
            "user_id": _str(),
            "signup_ts": _ts(nullable=True, required=False),
            # a number or a band ("25-34", "65+"): kept as text here, see customer_features
            "age": _str(nullable=True, required=False),
            "gender": _str(nullable=True, required=False),
            "location": _str(nullable=True, required=False),
            "income": _str(nullable=True, required=False),
            "household_size": _str(nullable=True, required=False),
            "consent": _bool(required=False),
        },
        name="users",
    ),
    "events": pa.DataFrameSchema(
        {
            "user_id": _str(),
            "session_id": _str(),
            "ts": _ts(),
            "event_type": _str(checks=pa.Check.isin(EVENT_TYPES)),
            "item_id": _str(nullable=True),
            "query": _str(nullable=True, required=False),
            "channel": _str(nullable=True, required=False, checks=pa.Check.isin(CHANNELS)),
            "device": _str(nullable=True, required=False),
        },
        name="events",
    ),
    "email": pa.DataFrameSchema(
        {
            "user_id": _str(),
            "campaign_id": _str(),
            "sent_ts": _ts(),
            "opened": _bool(),
            "clicked": _bool(),
        },
        name="email",
    ),
    # Marketing beyond email: a campaign exposure with a response is the general shape
    # (coupons, direct mail, promotions). Exposure dates may come from campaign_info.
    "campaigns": pa.DataFrameSchema(
        {
            "user_id": _str(),
            "campaign_id": _str(),
            "sent_ts": _ts(nullable=True, required=False),
            "responded": _bool(required=False),
        },
        name="campaigns",
    ),
    "campaign_info": pa.DataFrameSchema(
        {
            "campaign_id": _str(),
            "start_ts": _ts(nullable=True),
            "end_ts": _ts(nullable=True, required=False),
            "campaign_type": _str(nullable=True, required=False),
        },
        name="campaign_info",
    ),
    "campaign_responses": pa.DataFrameSchema(
        {"user_id": _str(), "campaign_id": _str(), "ts": _ts()},
        name="campaign_responses",
    ),
    "items": pa.DataFrameSchema(
        {
            "item_id": _str(),
            "description": _str(nullable=True),
            "category": _str(nullable=True, required=False),
            "price": _float(nullable=True, required=False),
        },
        name="items",
    ),
    "suppression": pa.DataFrameSchema({"user_id": _str()}, name="suppression"),
}

# Categorical user attributes (bands and labels) used as groups, features and drift columns.
USER_CATEGORIES = ("gender", "location", "income", "household_size")

# Tables that may be absent (an empty frame with no columns stands for "not provided").
OPTIONAL_TABLES = (
    "users", "events", "email", "items", "suppression",
    "campaigns", "campaign_info", "campaign_responses",
)  # fmt: skip


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _parse_bool(values: pd.Series, table: str, name: str, src: str) -> pd.Series:
    """Booleans from bools, 0/1 or words ('False' must not become True, as astype would)."""
    if pd.api.types.is_bool_dtype(values):
        return values
    words = values.astype(str).str.strip().str.lower()
    bad = ~words.isin(_TRUE | _FALSE)
    if bad.any():
        raise _bad_values(values, bad, "true/false", table, name, src)
    return words.isin(_TRUE)


def _bad_values(
    values: pd.Series, bad: pd.Series, expected: str, table: str, name: str, src: str
) -> DataContractError:
    """The error for values that cannot be read as ``expected``: how many, and examples."""
    hint = f" (raw column '{src}')" if src != name else ""
    examples = values[bad].astype(str).unique()[:3].tolist()
    return DataContractError(
        f"table '{table}', column '{name}'{hint}: {int(bad.sum())} value(s) are not "
        f"{expected}, e.g. {examples}"
    )


def _as_text(values: pd.Series) -> pd.Series:
    """Text as Python strings, missing as None; float ids such as 17850.0 become '17850'."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == whole.round()).all():
            values = values.astype("Int64")
    text = values.astype("string")  # its NA mask is cheap; isna on object arrays is not
    return pd.Series(text.to_numpy(dtype=object, na_value=None), index=values.index)


def mapped_columns(
    table: str, raw_cols: list[Any], column_map: Mapping[str, str]
) -> tuple[dict[str, Any], list[Any], list[str]]:
    """What a table's contract reads under ``column_map``: canonical name -> raw name, the
    raw columns it reads, and mapped raw columns not found. One canonical column fed by
    two raw ones stops here (both contracts, pandas and Ibis, share these words)."""
    schema = SCHEMAS[table]
    raw_name = {canon: src for src, canon in column_map.items()}
    missing_src = [src for src in column_map if src not in raw_cols]
    present = [src for src in raw_cols if src in column_map or src in schema.columns]
    for name in schema.columns:
        sources = [str(src) for src in present if column_map.get(src, src) == name]
        if len(sources) > 1:
            # an environment's map is merged into base's, so both may name a column here
            raise DataContractError(
                f"table '{table}', column '{name}': raw columns {sources} all map to it; "
                "map only the one to use (rename the other to a column the contract ignores)"
            )
    return raw_name, present, missing_src


def require_columns(
    table: str,
    columns: list[str],
    raw_cols: list[Any],
    raw_name: Mapping[str, Any],
    missing_src: list[str],
) -> None:
    """Stop on the first required column missing after the mapping, naming its raw name,
    the columns found and the mapped ones not found."""
    for name, col in SCHEMAS[table].columns.items():
        if col.required and name not in columns:
            src = raw_name.get(name, name)
            hint = f" (mapped from raw column '{src}')" if src != name else ""
            raise DataContractError(
                f"table '{table}', column '{name}'{hint}: required column is missing; "
                f"found columns {sorted(map(str, raw_cols))}"
                + (f"; mapped columns not found: {missing_src}" if missing_src else "")
            )


def conform_table(
    raw: pd.DataFrame,
    table: str,
    column_map: Mapping[str, str] | None = None,
    *,
    optional: bool = False,
) -> pd.DataFrame | None:
    """Rename ``raw`` to canonical columns, check and coerce it; ``None`` if absent and optional.

    ``column_map`` maps raw names to canonical names; canonical columns not in the map are
    expected under their own name. Unmapped extra columns are dropped.
    """
    schema = SCHEMAS[table]
    column_map = dict(column_map or {})
    if raw is None or (raw.shape[1] == 0 and optional):
        return None
    if len(raw) == 0:
        if optional and table == "suppression":
            return pd.DataFrame({"user_id": pd.Series([], dtype=object)})
        raise DataContractError(f"table '{table}': the table is empty (0 rows)")
    raw_name, _, missing_src = mapped_columns(table, list(raw.columns), column_map)
    df = raw.rename(columns=column_map)
    if table == "transactions" and "unit_price" not in df and "line_total" in df:
        df["unit_price"] = _unit_price_from_total(df, raw_name)
    require_columns(table, list(df.columns), list(raw.columns), raw_name, missing_src)
    df = df[[c for c in schema.columns if c in df.columns]].copy()
    for name in df.columns:
        dtype = str(schema.columns[name].dtype)
        src = raw_name.get(name, name)
        if dtype == "object":
            df[name] = _as_text(df[name])
        elif dtype.startswith("datetime"):
            df[name] = _parse_datetimes(df[name], table, name, src)
        elif dtype == "bool":
            df[name] = _parse_bool(df[name], table, name, src)
    try:
        return schema.validate(df, lazy=True)
    except SchemaErrors as err:
        raise DataContractError(_describe(table, err, raw_name)) from None


def _unit_price_from_total(df: pd.DataFrame, raw_name: Mapping[str, str]) -> pd.Series:
    """Unit price from a line total (exports that give what the line cost, not the unit).

    A zero-quantity line gets price 0, so the non-positive rule drops and counts it.
    """
    qty = pd.to_numeric(df["quantity"], errors="coerce")
    total = pd.to_numeric(df["line_total"], errors="coerce")
    bad = total.isna() & df["line_total"].notna()
    if bad.any():
        raise _bad_values(
            df["line_total"],
            bad,
            "numbers",
            "transactions",
            "line_total",
            raw_name.get("line_total", "line_total"),
        )
    return (total / qty.where(qty != 0)).fillna(0.0)


def require_parts(target: str, parts: list[str], raw_cols: list[Any]) -> None:
    """Stop when a composed column's raw parts are not all there (both contracts' words)."""
    absent = [p for p in parts if p not in raw_cols]
    if absent:
        raise DataContractError(
            f"compose '{target}': raw columns {absent} not found; "
            f"found columns {sorted(map(str, raw_cols))}"
        )


def compose_columns(raw: pd.DataFrame, compose: Mapping[str, list[str]] | None) -> pd.DataFrame:
    """Raw text columns joined into one (e.g. an item description from department, brand,
    category and type); missing parts are skipped. Returns ``raw`` with the new columns."""
    if not compose or raw is None or raw.empty:
        return raw
    out = raw.copy()
    for target, parts in compose.items():
        require_parts(target, parts, list(raw.columns))
        joined = raw[parts[0]].astype("string").fillna("")
        for part in parts[1:]:
            joined = joined.str.cat(raw[part].astype("string").fillna(""), sep=" ")
        joined = joined.str.replace(r"\s+", " ", regex=True).str.strip()
        out[target] = joined.astype(object).where(joined != "", None)
    return out


def _parse_datetimes(values: pd.Series, table: str, name: str, src: str) -> pd.Series:
    """Parse mixed date/time strings (CSV exports vary row to row); name what fails."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = pd.to_datetime(values, format="mixed", errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise _bad_values(values, bad, "dates/times", table, name, src)
    return parsed


def _describe(table: str, err: SchemaErrors, raw_name: Mapping[str, str]) -> str:
    cases = err.failure_cases
    lines = []
    for column, group in cases.groupby("column", dropna=False, sort=False):
        src = raw_name.get(str(column), str(column))
        hint = f" (raw column '{src}')" if src != column else ""
        check = group["check"].iloc[0]  # the first failed check says it (coercion before dtype)
        first = group[group["check"] == check]
        examples = first["failure_case"].dropna().astype(str).unique()[:3].tolist()
        lines.append(
            f"table '{table}', column '{column}'{hint}: failed {check}; "
            f"{len(first)} bad value(s), e.g. {examples}"
        )
    return "; ".join(lines) if lines else f"table '{table}': {err}"
