"""The sums in ordered_items: adding orders' lines, taking exactly those lines back out, and a row's first
and last order times found again from the orders that still count.

An order adds, to each row (customer, item, unit price) its lines touch, their quantity and one order.
Taking it back subtracts the same; a row left with no order goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, delete, func, literal_column, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from desktop_app.query.bands import Band, price_band
from desktop_app.query.copies import SQL_IN_CHUNK
from desktop_app.query.event_facts import Line, row_quantities
from desktop_app.query.schema import PLACED, OrderedItem, OrderRecord

ITEMS = OrderedItem.__table__
ORDERS = OrderRecord.__table__

RowKey = tuple[str, str, int]  # (customer_id, item, unit_price_pence): one ordered_items row


class OrderLinesLike(Protocol):
    customer_id: str
    placed_at: str  # stored time text
    lines: Sequence[Line]


@dataclass(slots=True)
class _RowTotals:
    band: Band
    quantity: int
    orders: int
    first: str  # stored time text
    last: str


def add(connection: Connection, orders: Iterable[OrderLinesLike]) -> set[RowKey]:
    """Add these orders' lines to ordered_items (one upsert per row). Returns the rows touched."""
    rows: dict[RowKey, _RowTotals] = {}
    for order in orders:
        when = order.placed_at
        for (item, price), quantity in row_quantities(order.lines).items():
            key = (order.customer_id, item, price)
            totals = rows.get(key)
            if totals is None:
                rows[key] = _RowTotals(price_band(price), quantity, 1, when, when)
            else:
                totals.quantity += quantity
                totals.orders += 1
                totals.first = min(totals.first, when)
                totals.last = max(totals.last, when)
    if rows:
        connection.exec_driver_sql(_UPSERT_ITEMS, [
            {"customer_id": customer_id, "item": item, "unit_price_pence": price, "band": totals.band.value,
             "quantity": totals.quantity, "orders": totals.orders,
             "first_ordered": totals.first, "last_ordered": totals.last}
            for (customer_id, item, price), totals in rows.items()
        ])
    return set(rows)


def subtract(connection: Connection, orders: Iterable[OrderLinesLike]) -> dict[RowKey, set[str]]:
    """Take these orders' lines back out of ordered_items; rows left with no order go.

    Returns the rows touched, with the order times taken out of each: give them to `refresh_times` once
    the batch's other changes are written.
    """
    per_row: dict[RowKey, list[int]] = {}  # row -> [quantity, orders]
    taken: dict[RowKey, set[str]] = {}
    for order in orders:
        for (item, price), quantity in row_quantities(order.lines).items():
            row = (order.customer_id, item, price)
            totals = per_row.setdefault(row, [0, 0])
            totals[0] += quantity
            totals[1] += 1
            taken.setdefault(row, set()).add(order.placed_at)
    if per_row:
        keys = [{"c": c, "i": i, "p": p, "q": quantity, "n": count} for (c, i, p), (quantity, count) in per_row.items()]
        connection.exec_driver_sql(_SUBTRACT, keys)
        connection.exec_driver_sql(_DELETE_EMPTY, keys)
    return taken


def refresh_times(connection: Connection, taken: dict[RowKey, set[str]]) -> None:
    """First and last order times again, from the orders that still count, for the rows that lost their
    first or last order (only those can change; a deleted row has nothing to refresh)."""
    wanted: dict[str, set[tuple[str, int]]] = {}
    for (customer_id, item, price), first, last in _current_times(connection, list(taken)):
        if {stored_text(first), stored_text(last)} & taken[(customer_id, item, price)]:
            wanted.setdefault(customer_id, set()).add((item, price))
    customers = list(wanted)
    times: dict[RowKey, list[str]] = {}  # row -> [first, last]
    for start in range(0, len(customers), SQL_IN_CHUNK):
        chunk = customers[start:start + SQL_IN_CHUNK]
        statement = select(ORDERS.c.customer_id, ORDERS.c.placed_at, ORDERS.c.lines).where(
            ORDERS.c.customer_id.in_(chunk), ORDERS.c.status == PLACED
        )
        for customer_id, placed_at, lines in connection.execute(statement):
            placed_at = stored_text(placed_at)
            for item, price, _ in json.loads(lines):
                if (item, price) in wanted[customer_id]:
                    seen = times.setdefault((customer_id, item, price), [placed_at, placed_at])
                    seen[0], seen[1] = min(seen[0], placed_at), max(seen[1], placed_at)
    if times:
        connection.exec_driver_sql(_SET_TIMES, [
            {"c": c, "i": i, "p": p, "first": first, "last": last} for (c, i, p), (first, last) in times.items()
        ])


def row_keys(taken: Iterable[RowKey]) -> set[tuple[str, Band]]:
    """The (customer, band) keys of these rows: what the window re-reads."""
    return {(customer_id, price_band(price)) for customer_id, _, price in taken}


def _current_times(connection: Connection, rows: list[RowKey]) -> Iterable[tuple[RowKey, Any, Any]]:
    for customer_id, item, price in rows:
        found = connection.exec_driver_sql(_ROW_TIMES, {"c": customer_id, "i": item, "p": price}).first()
        if found is not None:
            yield (customer_id, item, price), found[0], found[1]


def stored_text(value: Any) -> str:
    """Times as stored text whether the driver hands back text or (through a typed column) a datetime."""
    return value if isinstance(value, str) else value.isoformat(sep=" ", timespec="microseconds")


# Core statements compiled once to SQLite SQL with :name parameters and run with exec_driver_sql: this skips
# SQLAlchemy's per-row parameter processing, so values are passed as SQLite stores them.
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")


def driver_sql(statement: Any) -> str:
    return str(statement.compile(dialect=_SQLITE_NAMED))


def _row_is(table: Any) -> Any:
    return and_(table.c.customer_id == bindparam("c"), table.c.item == bindparam("i"),
                table.c.unit_price_pence == bindparam("p"))


def _build_items_upsert() -> Any:
    insert = sqlite_insert(ITEMS)
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[ITEMS.c.customer_id, ITEMS.c.item, ITEMS.c.unit_price_pence],
        set_={
            "quantity": ITEMS.c.quantity + new.quantity,
            "orders": ITEMS.c.orders + new.orders,
            # SQLite's two-argument min/max are scalar functions
            "first_ordered": func.min(ITEMS.c.first_ordered, new.first_ordered),
            "last_ordered": func.max(ITEMS.c.last_ordered, new.last_ordered),
        },
    )


_UPSERT_ITEMS = driver_sql(_build_items_upsert())
_SUBTRACT = driver_sql(
    update(ITEMS).where(_row_is(ITEMS)).values(
        quantity=ITEMS.c.quantity - bindparam("q"), orders=ITEMS.c.orders - bindparam("n")
    )
)
_DELETE_EMPTY = driver_sql(delete(ITEMS).where(_row_is(ITEMS), ITEMS.c.orders <= literal_column("0")))
_SET_TIMES = driver_sql(
    update(ITEMS).where(_row_is(ITEMS)).values(first_ordered=bindparam("first"), last_ordered=bindparam("last"))
)
_ROW_TIMES = driver_sql(select(ITEMS.c.first_ordered, ITEMS.c.last_ordered).where(_row_is(ITEMS)))
