"""The sums in ordered_items: adding orders' lines, taking exactly those lines back out, and a row's first
and last order times found again from the orders that still count.

An order adds, to each row (customer, item, unit price) its lines touch, their quantity and one order.
Taking it back subtracts the same; a row left with no order goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, delete, func, literal_column, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from desktop_app.query.bands import Band, price_band
from desktop_app.query.copies import SQL_IN_CHUNK
from desktop_app.query.event_facts import Line, row_quantities
from desktop_app.query.schema import PLACED, OrderedItem, OrderRecord

ITEMS = OrderedItem.__table__
_FIRST = itemgetter(0)
ORDERS = OrderRecord.__table__

RowKey = tuple[str, str, int]  # (customer_id, item, unit_price_pence): one ordered_items row
# the band rule (bands.price_band), remembered per price: a batch asks it for every row it touches
_band_of = lru_cache(maxsize=4096)(price_band)
_band_text_of = lru_cache(maxsize=4096)(lambda price: price_band(price).value)


class OrderLinesLike(Protocol):
    customer_id: str
    placed_at: str  # stored time text
    lines: Sequence[Line]


def add(connection: Connection, orders: Iterable[OrderLinesLike]) -> set[RowKey]:
    """Add these orders' lines to ordered_items (one upsert per row). Returns the rows touched."""
    # row -> [quantity, orders, first, last, the last order counted in it (an order's lines may repeat a row)]
    rows: dict[RowKey, list[Any]] = {}
    for number, order in enumerate(orders):
        when = order.placed_at
        customer_id = order.customer_id
        for item, price, quantity in order.lines:
            key = (customer_id, item, price)
            totals = rows.get(key)
            if totals is None:
                rows[key] = [quantity, 1, when, when, number]
                continue
            totals[0] += quantity
            if totals[4] != number:
                totals[1] += 1
                totals[4] = number
                if when < totals[2]:
                    totals[2] = when
                elif when > totals[3]:
                    totals[3] = when
    if rows:
        band_of = _band_text_of
        upserts = [(customer_id, item, price, band_of(price), quantity, count, first, last)
                   for (customer_id, item, price), (quantity, count, first, last, _) in rows.items()]
        # by customer, the first column of the primary key: the B-tree is then walked in order, not at random
        # places (a full sort on the key cost more in Python than it saved)
        upserts.sort(key=_FIRST)
        connection.exec_driver_sql(_UPSERT_ITEMS, upserts)
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
    first or last order (only those can change; a deleted row has nothing to refresh).

    The customer's standing orders are walked in time order from the end that changed (the customer and
    time index), up to the first one holding the row: a few rows, however many orders the customer has.
    """
    changes = []
    for (customer_id, item, price), first, last in _current_times(connection, list(taken)):
        gone = taken[(customer_id, item, price)]
        first, last = stored_text(first), stored_text(last)
        if first in gone:
            first = _edge_time(connection, customer_id, item, price, _EARLIEST) or first
        if last in gone:
            last = _edge_time(connection, customer_id, item, price, _LATEST) or last
        changes.append({"c": customer_id, "i": item, "p": price, "first": first, "last": last})
    if changes:
        connection.exec_driver_sql(_SET_TIMES, changes)


def _edge_time(connection: Connection, customer_id: str, item: str, price: int, walk: str) -> str | None:
    """The time of the customer's earliest (or latest) standing order holding (item, price)."""
    for (placed_at,) in connection.exec_driver_sql(walk, (customer_id, PLACED, _text_in_lines(item), item, price)):
        return stored_text(placed_at)
    return None  # none holds it: a row of a view older than projection version 3 keeps its times


def _text_in_lines(item: str) -> str:
    """Text that every stored lines JSON holding `item` contains: the quoted name, for a name any JSON encoder
    writes as is (printable ASCII, no quote or backslash); else "" (found in any text)."""
    if item.isascii() and item.isprintable() and '"' not in item and "\\" not in item:
        return f'"{item}"'
    return ""


def row_keys(taken: Iterable[RowKey]) -> set[tuple[str, Band]]:
    """The (customer, band) keys of these rows: what the window re-reads."""
    return {(customer_id, _band_of(price)) for customer_id, _, price in taken}


def _current_times(connection: Connection, rows: list[RowKey]) -> Iterable[tuple[RowKey, Any, Any]]:
    """(row, first, last) of those rows that still exist, through the primary key."""
    for start in range(0, len(rows), SQL_IN_CHUNK):
        chunk = rows[start:start + SQL_IN_CHUNK]
        marks = ",".join(["(?, ?, ?)"] * len(chunk))
        for customer_id, item, price, first, last in connection.exec_driver_sql(
            _ROW_TIMES.format(marks=marks), tuple(value for row in chunk for value in row)
        ):
            yield (customer_id, item, price), first, last


def stored_text(value: Any) -> str:
    """Times as stored text whether the driver hands back text or (through a typed column) a datetime."""
    return value if isinstance(value, str) else value.isoformat(sep=" ", timespec="microseconds")


# Core statements compiled once to SQLite SQL with :name parameters and run with exec_driver_sql: this skips
# SQLAlchemy's per-row parameter processing, so values are passed as SQLite stores them.
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")


def driver_sql(statement: Any) -> str:
    return str(statement.compile(dialect=_SQLITE_NAMED))


_SQLITE_QMARK = sqlite.dialect(paramstyle="qmark")


def positional_sql(statement: Any, names: Sequence[str]) -> str:
    """The statement as SQLite SQL with `?` parameters, taking `names` in this order (ValueError if it takes
    others). Rows given as tuples bind at about a third of the cost of dicts (sqlite3 looks each name up)."""
    compiled = statement.compile(dialect=_SQLITE_QMARK)
    if tuple(compiled.positiontup or ()) != tuple(names):
        raise ValueError(f"the statement takes {compiled.positiontup}, not {tuple(names)}")
    return str(compiled)


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


# the order of add's tuples
_ITEM_COLUMNS = ("customer_id", "item", "unit_price_pence", "band", "quantity", "orders", "first_ordered",
                 "last_ordered")
_UPSERT_ITEMS = positional_sql(_build_items_upsert(), _ITEM_COLUMNS)
_SUBTRACT = driver_sql(
    update(ITEMS).where(_row_is(ITEMS)).values(
        quantity=ITEMS.c.quantity - bindparam("q"), orders=ITEMS.c.orders - bindparam("n")
    )
)
_DELETE_EMPTY = driver_sql(delete(ITEMS).where(_row_is(ITEMS), ITEMS.c.orders <= literal_column("0")))
# a join on the VALUES, so each row is found through the primary key ("(a, b, c) IN (VALUES ...)" made SQLite
# scan the whole table per chunk: a cost growing with the view, paid by every batch with a cancellation)
_ROW_TIMES = ("SELECT i.customer_id, i.item, i.unit_price_pence, i.first_ordered, i.last_ordered"
              " FROM (VALUES {marks}) AS k CROSS JOIN ordered_items AS i"
              " ON i.customer_id = k.column1 AND i.item = k.column2 AND i.unit_price_pence = k.column3")
# The walk runs in SQLite: the customer's standing orders in time order (ix_orders_customer_placed), the first
# whose lines hold the row (instr skips most orders at once; json_each reads the JSON in C), instead of a Python
# loop decoding every order's lines.
_EARLIEST, _LATEST = (
    "SELECT placed_at FROM orders WHERE customer_id = ? AND status = ? AND instr(lines, ?) > 0"
    " AND EXISTS (SELECT 1 FROM json_each(lines)"
    " AS line WHERE json_extract(line.value, '$[0]') = ? AND json_extract(line.value, '$[1]') = ?)"
    f" ORDER BY placed_at {way} LIMIT 1"
    for way in ("ASC", "DESC")
)
_SET_TIMES = driver_sql(
    update(ITEMS).where(_row_is(ITEMS)).values(first_ordered=bindparam("first"), last_ordered=bindparam("last"))
)
