"""The data contract as Ibis expressions: rename, check and type a raw table.

The rules are read from the pandera schemas of :mod:`tailor.schemas` (column kinds,
nullability, allowed values), so the contract has one written form. All checks of a table
run as one aggregate query in the backend; a failure raises :class:`DataContractError`
naming the table, the column (and its raw name) and examples, before any node writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from tailor.schemas import (
    SCHEMAS,
    DataContractError,
    mapped_columns,
    require_columns,
    require_parts,
)
from tailor.tables import backend as be
from tailor.tables.backend import ROW

_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]


def kind(table: str, column: str) -> str:
    """'text', 'float', 'timestamp' or 'bool': the contract type of a column."""
    dtype = str(SCHEMAS[table].columns[column].dtype)
    if dtype.startswith("datetime"):
        return "timestamp"
    return {"float64": "float", "bool": "bool"}.get(dtype, "text")


IBIS_TYPE = {"text": "string", "float": "float64", "timestamp": "timestamp", "bool": "boolean"}


def empty_table(table: str) -> ibis.Table:
    """An absent optional table: no rows, every contract column typed."""
    cols = {c: IBIS_TYPE[kind(table, c)] for c in SCHEMAS[table].columns}
    return be.empty({**cols, ROW: "int64"})


def compose_columns(raw: ibis.Table, compose: Mapping[str, list[str]] | None) -> ibis.Table:
    """Raw text columns joined into one (missing parts skipped, spaces collapsed)."""
    if not compose:
        return raw
    new = {}
    for target, parts in compose.items():
        require_parts(target, parts, [c for c in raw.columns if c != ROW])
        text = [raw[p].cast("string").fill_null("") for p in parts]
        joined = text[0]
        for part in text[1:]:
            joined = joined.concat(" ", part)
        joined = joined.re_replace(r"\s+", " ").strip()
        new[target] = joined.nullif("")
    return raw.mutate(**new)


def _missing(col: ibis.Value) -> ibis.BooleanValue:
    """Missing as pandas sees it: null, or NaN in a float column."""
    return (col.isnull() | col.isnan()) if col.type().is_floating() else col.isnull()


def _numbers(col: ibis.Value) -> ibis.FloatingValue:
    value = col if col.type().is_numeric() else col.cast("string").strip().try_cast("float64")
    value = value.cast("float64")
    return ibis.ifelse(value.isnan(), ibis.null("float64"), value)


def _timestamps(col: ibis.Value) -> ibis.TimestampValue:
    t = col.type()
    if t.is_timestamp():
        return col if t.timezone is None else col.cast(dt.Timestamp(scale=t.scale))
    if t.is_date():
        return col.cast("timestamp")
    if t.is_integer():  # pandas reads integers as nanoseconds since the epoch
        return be.from_epoch_ns(col)
    return col.cast("string").strip().try_cast(dt.Timestamp())  # ISO (see _iso_dates)


def _booleans(col: ibis.Value) -> ibis.BooleanValue:
    if col.type().is_boolean():
        return col
    words = col.cast("string").strip().lower()
    return ibis.cases((words.isin(_TRUE), True), (words.isin(_FALSE), False), else_=None)


def _text(col: ibis.Value, whole: bool) -> ibis.StringValue:
    """Strings; float ids such as 17850.0 become '17850' when every value is whole."""
    if col.type().is_string():
        return col
    if col.type().is_floating():
        value = ibis.ifelse(col.isnan(), ibis.null("float64"), col)
        return (value.cast("int64") if whole else value).cast("string")
    return col.cast("string")


def _examples(t: ibis.Table, bad: ibis.BooleanValue, col: str) -> list[str]:
    values = t.filter(bad).select(v=t[col].cast("string")).v.to_pyarrow().to_pylist()
    return list(dict.fromkeys(str(v) for v in values if v is not None))[:3]


def _hint(name: str, src: str) -> str:
    return f" (raw column '{src}')" if src != name else ""


def conform_table(
    raw: pd.DataFrame | ibis.Table | None,
    table: str,
    column_map: Mapping[str, str] | None = None,
    *,
    optional: bool = False,
    compose: Mapping[str, list[str]] | None = None,
) -> ibis.Table | None:
    """Rename ``raw`` to canonical columns, check and type it; ``None`` if absent and optional.

    ``column_map`` maps raw names to canonical names; canonical columns not in the map are
    expected under their own name; unmapped extra columns are dropped. ``compose`` joins raw
    text columns into one first (e.g. a description from product fields).
    """
    schema = SCHEMAS[table]
    column_map = dict(column_map or {})
    if raw is None:
        return None
    if isinstance(raw, pd.DataFrame):
        if raw.shape[1] == 0 and optional:
            return None
        raw = be.table(raw)
    raw = be.table(raw)
    raw_cols = [c for c in raw.columns if c != ROW]
    if not raw_cols and optional:
        return None
    if be.count(raw) == 0:
        if optional and table == "suppression":
            return be.empty({"user_id": "string", ROW: "int64"})
        raise DataContractError(f"table '{table}': the table is empty (0 rows)")
    raw = compose_columns(raw, compose)
    raw_cols = [c for c in raw.columns if c != ROW]
    raw_name, present, missing_src = mapped_columns(table, raw_cols, column_map)
    df = raw.select(ROW, **{column_map.get(s, s): raw[s] for s in present})
    if table == "transactions" and "unit_price" not in df.columns and "line_total" in df.columns:
        df = _unit_price_from_total(df, raw_name.get("line_total", "line_total"))
    require_columns(table, list(df.columns), raw_cols, raw_name, missing_src)
    names = [c for c in schema.columns if c in df.columns]
    return _typed(df, table, names, raw_name)


def _unit_price_from_total(df: ibis.Table, src: str) -> ibis.Table:
    """Unit price from a line total; a zero-quantity line gets 0 (dropped as non-positive)."""
    total = _numbers(df.line_total)
    bad = total.isnull() & ~_missing(df.line_total)
    n_bad = be.scalar(bad.cast("int64").sum())
    if n_bad:
        examples = _examples(df, bad, "line_total")
        raise DataContractError(
            f"table 'transactions', column 'line_total'{_hint('line_total', src)}: "
            f"{n_bad} value(s) are not numbers, e.g. {examples}"
        )
    qty = _numbers(df.quantity)
    price = ibis.ifelse(qty != 0, total / qty, ibis.null("float64")).fill_null(0.0)
    return df.mutate(unit_price=price)


# Text dates every backend casts as pandas reads them: ISO dates and times, to microseconds.
ISO = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"


def _iso_dates(df: ibis.Table, names: list[str], kinds: dict[str, str]) -> ibis.Table:
    """Text dates in any other layout rewritten as ISO text, as pandas reads them: its
    ``format="mixed"`` rule (the pandas contract's) parses each distinct such value on its
    own, and the backend joins the answers back. So '9.12.2011' is 12 September, '12/09/11'
    is 2011 and 'Dec 9 2011' a date on every backend; what pandas cannot read stays as it
    was, and the contract names it. ISO exports (the usual large ones) fetch nothing."""
    for name in names:
        if kinds[name] != "timestamp" or not df[name].type().is_string():
            continue
        text = df[name].strip()
        other = df.filter(text.notnull() & ~text.re_search(ISO)).select(_raw=text).distinct()
        values = other.to_pandas()["_raw"]
        if values.empty:
            continue
        parsed = pd.to_datetime(values, format="mixed", errors="coerce")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert(None)
        known = parsed.notna()
        iso = parsed[known].dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        lookup = be.table_as(
            pd.DataFrame({"_raw": values[known], "_iso": iso}),
            ibis.schema({"_raw": "string", "_iso": "string"}),
        )
        joined = df.left_join(lookup, text == lookup._raw)
        df = joined.select(
            *(ibis.coalesce(joined._iso, joined[c]).name(c) if c == name else joined[c]
              for c in df.columns)
        )  # fmt: skip
    return df


def _typed(df: ibis.Table, table: str, names: list[str], raw_name: Mapping[str, str]) -> ibis.Table:
    """Coerce each column to its contract kind; count every failure in one query."""
    schema = SCHEMAS[table]
    kinds = {n: kind(table, n) for n in names}
    df = _iso_dates(df, names, kinds)
    converted: dict[str, ibis.Value] = {}
    probes: dict[str, ibis.Scalar] = {}
    for name in names:
        col, k = df[name], kinds[name]
        if k == "text" and col.type().is_floating():
            probes[f"{name}:fraction"] = ((col != col.floor()) & ~col.isnan()).cast("int64").sum()
        elif k == "timestamp":
            converted[name] = _timestamps(col)
        elif k == "float":
            converted[name] = _numbers(col)
        elif k == "bool":
            converted[name] = _booleans(col)
        if name in converted:
            probes[f"{name}:coerce"] = (
                (converted[name].isnull() & ~_missing(col)).cast("int64").sum()
            )
        if not schema.columns[name].nullable:
            probes[f"{name}:null"] = _missing(col).cast("int64").sum()
    stats: dict[str, Any] = df.aggregate(**probes).to_pyarrow().to_pylist()[0] if probes else {}
    for name in names:
        if kinds[name] == "text":
            converted[name] = _text(df[name], stats.get(f"{name}:fraction") == 0)
    errors = _coercion_errors(df, table, names, kinds, converted, stats, raw_name)
    if errors:
        raise DataContractError("; ".join(errors))
    typed = {
        n: converted[n] if kinds[n] == "timestamp" else converted[n].cast(IBIS_TYPE[kinds[n]])
        for n in names
    }
    out = df.select(ROW, **typed)
    errors = _allowed_value_errors(out, table, names, raw_name)
    if errors:
        raise DataContractError("; ".join(errors))
    return out.select(*names, ROW)


def _coercion_errors(
    df: ibis.Table,
    table: str,
    names: list[str],
    kinds: dict[str, str],
    converted: dict[str, ibis.Value],
    stats: dict[str, Any],
    raw_name: Mapping[str, str],
) -> list[str]:
    """Dates and booleans that do not parse stop first, in column order (as pandas does);
    then numbers that do not parse and missing values, one message per column."""
    words = {"timestamp": "dates/times", "bool": "true/false"}
    for name in names:
        n_bad = stats.get(f"{name}:coerce") or 0
        if n_bad and kinds[name] in words:
            bad = converted[name].isnull() & ~_missing(df[name])
            src = raw_name.get(name, name)
            return [
                f"table '{table}', column '{name}'{_hint(name, src)}: {n_bad} value(s) are "
                f"not {words[kinds[name]]}, e.g. {_examples(df, bad, name)}"
            ]
    errors = []
    for name in names:
        src = raw_name.get(name, name)
        n_bad = stats.get(f"{name}:coerce") or 0
        if n_bad:
            bad = converted[name].isnull() & ~_missing(df[name])
            check = f"coerce_dtype('{SCHEMAS[table].columns[name].dtype}')"
        elif stats.get(f"{name}:null"):
            n_bad, bad, check = stats[f"{name}:null"], _missing(df[name]), "not_nullable"
        else:
            continue
        errors.append(
            f"table '{table}', column '{name}'{_hint(name, src)}: failed {check}; "
            f"{n_bad} bad value(s), e.g. {_examples(df, bad, name)}"
        )
    return errors


def _allowed_value_errors(
    out: ibis.Table, table: str, names: list[str], raw_name: Mapping[str, str]
) -> list[str]:
    checks = {
        name: check.statistics["allowed_values"]
        for name in names
        for check in SCHEMAS[table].columns[name].checks
        if check.name == "isin"
    }
    if not checks:
        return []
    outside = {n: out[n].notnull() & ~out[n].isin(list(v)) for n, v in checks.items()}
    counts = (
        out.aggregate(**{n: bad.cast("int64").sum() for n, bad in outside.items()})
        .to_pyarrow()
        .to_pylist()[0]
    )
    errors = []
    for name, allowed in checks.items():
        if counts[name]:
            src = raw_name.get(name, name)
            errors.append(
                f"table '{table}', column '{name}'{_hint(name, src)}: failed isin({allowed}); "
                f"{counts[name]} bad value(s), e.g. {_examples(out, outside[name], name)}"
            )
    return errors
