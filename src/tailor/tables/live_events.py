"""Archived live events joining the shop's events and transactions, as Ibis expressions.

The rules of :mod:`tailor.live_events`: each event id once, at its first occurrence in
time (:func:`tailor.live_events.live_rows`, on the small archive before the contract); every
live event joins ``events``; a live purchase becomes a transaction line priced by the item's
median unit price over the transactions up to it, in the buyer's country as of it (the
latest line up to it, ties to the later input line), so nothing later reaches a line that
an earlier cut-off trains on. Appended rows come after the shop's own in input order.
"""

from __future__ import annotations

import logging

import ibis
import pandas as pd

from tailor.live_events import LIVE_ORDER_PREFIX, live_rows
from tailor.tables import backend as be
from tailor.tables.backend import ROW
from tailor.tables.contract import conform_table

log = logging.getLogger(__name__)


def merge_live_events(
    transactions: ibis.Table,
    events: ibis.Table,
    live: pd.DataFrame | None,
    data_end: str | None = None,
) -> tuple[ibis.Table, ibis.Table]:
    """The conformed transactions and events with the archived live events added."""
    rows = live_rows(live)
    table = None if rows is None else conform_table(rows, "events", {}, optional=True)
    if table is None:
        return transactions, events
    ids = be.table(pd.DataFrame({"event_id": rows["event_id"].astype(str)}))
    table = table.inner_join(ids, ROW)
    if data_end is not None:
        table = table.filter(table.ts <= be.ts_literal(data_end))
    table = table.cache()
    lines = purchase_lines(table, transactions).cache()
    n_events, n_lines = be.count(table), be.count(lines)
    log.info("live events: %d events, %d purchase lines", n_events, n_lines)
    return append(transactions, lines), append(events, table.drop("event_id"))


def purchase_lines(events: ibis.Table, transactions: ibis.Table) -> ibis.Table:
    """Transaction lines of the live purchases in ``events`` (point in time, see above)."""
    bought = events.filter((events.event_type == "purchase") & events.item_id.notnull())
    bought = bought.select(ROW, "event_id", "user_id", "item_id", "ts")
    tx = transactions.filter(transactions.ts.notnull())
    sold = tx.select(_item=tx.item_id, _ts=tx.ts, _price=tx.unit_price)
    priced = bought.inner_join(sold, [bought.item_id == sold._item, sold._ts <= bought.ts])
    price = priced.group_by(ROW).aggregate(unit_price=priced._price.median())
    where = tx.filter(tx.user_id.notnull() & tx.country.notnull())
    where = where.select(_user=where.user_id, _ts=where.ts, _country=where.country, _row=where[ROW])
    seen = bought.inner_join(where, [bought.user_id == where._user, where._ts <= bought.ts])
    latest = ibis.row_number().over(group_by=ROW, order_by=[ibis.desc("_ts"), ibis.desc("_row")])
    country = seen.mutate(_rank=latest).filter(ibis._._rank == 0).select(ROW, country="_country")
    lines = be.left_join(be.left_join(bought, price, ROW), country, ROW)
    unpriced = be.count(lines.filter(lines.unit_price.isnull()))
    if unpriced:
        log.warning("live purchases: %d of items never sold in transactions dropped", unpriced)
    lines = lines.filter(lines.unit_price.notnull())
    return lines.select(
        order_id=ibis.literal(LIVE_ORDER_PREFIX) + lines.event_id,
        user_id=lines.user_id,
        item_id=lines.item_id,
        quantity=ibis.literal(1.0),
        unit_price=lines.unit_price.cast("float64"),
        ts=lines.ts,
        country=lines.country.cast("string"),
        **{ROW: lines[ROW]},
    )


def append(base: ibis.Table, extra: ibis.Table) -> ibis.Table:
    """``extra``'s rows after ``base``'s (as pandas' concat): ``base``'s columns then
    ``extra``'s others, missing cells null, input order numbered after ``base``'s."""
    offset = be.scalar(base[ROW].max())
    offset = 0 if offset is None else int(offset) + 1
    cols = [c for c in base.columns if c != ROW]
    cols += [c for c in extra.columns if c not in cols and c != ROW]
    types = {c: (base.schema() if c in base.columns else extra.schema())[c] for c in cols}

    def shaped(t: ibis.Table, shift: int) -> ibis.Table:
        values = {c: (t[c] if c in t.columns else ibis.null()).cast(types[c]) for c in cols}
        return t.select(**values, **{ROW: t[ROW] + shift})

    return shaped(base, 0).union(shaped(extra, offset))
