"""Each counted event's lines (table order_lines), and taking exactly those lines back out of the view.

ordered_items holds sums; order_lines holds what each event added to them, so that an event that stops
counting (a lower copy with other content took over) is subtracted exactly, and a row's first and last
order times are found again from the lines that remain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, delete, literal_column, select, update
from sqlalchemy.dialects import sqlite

from desktop_app.query.copies import SQL_IN_CHUNK
from desktop_app.query.schema import AppliedOrderLines, OrderedItem

ITEMS = OrderedItem.__table__
LINES = AppliedOrderLines.__table__

RowKey = tuple[str, str, int]  # (customer_id, item, unit_price_pence): one ordered_items row


class LinesLike(Protocol):
    event_id: bytes
    customer_id: str
    occurred_at: str  # stored time text
    quantities: dict[tuple[str, int], int]  # (item, unit_price_pence) -> quantity in this event


def add_lines(connection: Connection, facts: Sequence[LinesLike]) -> None:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    rows = [
        {"event_id": fact.event_id, "customer_id": fact.customer_id, "occurred_at": fact.occurred_at,
         "lines": dumps([[item, price, quantity] for (item, price), quantity in fact.quantities.items()])}
        for fact in facts
    ]
    if rows:
        connection.exec_driver_sql(_INSERT_LINES, rows)


def take_back(connection: Connection, event_ids: Sequence[bytes]) -> dict[RowKey, set[str]]:
    """Subtract these events' lines from ordered_items and forget them; rows left with no order go.

    Returns the rows touched, with the order times taken out of each: give them to `refresh_times`
    once the batch's new lines are in.
    """
    per_row: dict[RowKey, list[int]] = {}  # row -> [quantity, orders]
    taken: dict[RowKey, set[str]] = {}
    for start in range(0, len(event_ids), SQL_IN_CHUNK):
        chunk = list(event_ids[start:start + SQL_IN_CHUNK])
        for customer_id, occurred_at, lines in connection.execute(
            select(LINES.c.customer_id, LINES.c.occurred_at, LINES.c.lines).where(LINES.c.event_id.in_(chunk))
        ):
            for item, price, quantity in json.loads(lines):
                row = (customer_id, item, price)
                totals = per_row.setdefault(row, [0, 0])
                totals[0] += quantity
                totals[1] += 1  # an event has one entry per row: one entry is one order of the row
                taken.setdefault(row, set()).add(_stored_text(occurred_at))
        connection.execute(delete(LINES).where(LINES.c.event_id.in_(chunk)))
    if per_row:
        keys = [{"c": c, "i": i, "p": p, "q": quantity, "n": orders} for (c, i, p), (quantity, orders) in per_row.items()]
        connection.exec_driver_sql(_SUBTRACT, keys)
        connection.exec_driver_sql(_DELETE_EMPTY, keys)
    return taken


def refresh_times(connection: Connection, taken: dict[RowKey, set[str]]) -> None:
    """First and last order times again, from the lines that remain, for the rows that lost their first
    or last order (only those can change; a deleted row has nothing to refresh).

    A row with no remaining lines keeps its times: it holds sums of a view older than projection version 2.
    """
    wanted: dict[str, set[tuple[str, int]]] = {}
    for (customer_id, item, price), first, last in _current_times(connection, list(taken)):
        if {_stored_text(first), _stored_text(last)} & taken[(customer_id, item, price)]:
            wanted.setdefault(customer_id, set()).add((item, price))
    customers = list(wanted)
    times: dict[RowKey, list[str]] = {}  # row -> [first, last]
    for start in range(0, len(customers), SQL_IN_CHUNK):
        chunk = customers[start:start + SQL_IN_CHUNK]
        for customer_id, occurred_at, lines in connection.exec_driver_sql(_CUSTOMER_LINES.format(
            marks=",".join("?" * len(chunk))), tuple(chunk)
        ):
            occurred_at = _stored_text(occurred_at)
            for item, price, _ in json.loads(lines):
                if (item, price) in wanted[customer_id]:
                    seen = times.setdefault((customer_id, item, price), [occurred_at, occurred_at])
                    seen[0], seen[1] = min(seen[0], occurred_at), max(seen[1], occurred_at)
    if times:
        connection.exec_driver_sql(_SET_TIMES, [
            {"c": c, "i": i, "p": p, "first": first, "last": last} for (c, i, p), (first, last) in times.items()
        ])


def _current_times(connection: Connection, rows: list[RowKey]) -> Iterable[tuple[RowKey, Any, Any]]:
    for customer_id, item, price in rows:
        found = connection.exec_driver_sql(_ROW_TIMES, {"c": customer_id, "i": item, "p": price}).first()
        if found is not None:
            yield (customer_id, item, price), found[0], found[1]


def _stored_text(value: Any) -> str:
    """Times as stored text whether the driver hands back text or (through a typed column) a datetime."""
    return value if isinstance(value, str) else value.isoformat(sep=" ", timespec="microseconds")


_SQLITE_NAMED = sqlite.dialect(paramstyle="named")


def _driver_sql(statement: Any) -> str:
    return str(statement.compile(dialect=_SQLITE_NAMED))


def _row_is(table: Any) -> Any:
    return and_(table.c.customer_id == bindparam("c"), table.c.item == bindparam("i"),
                table.c.unit_price_pence == bindparam("p"))


_INSERT_LINES = _driver_sql(LINES.insert().values(
    {name: bindparam(name) for name in ("event_id", "customer_id", "occurred_at", "lines")}
))
_SUBTRACT = _driver_sql(
    update(ITEMS).where(_row_is(ITEMS)).values(
        quantity=ITEMS.c.quantity - bindparam("q"), orders=ITEMS.c.orders - bindparam("n")
    )
)
_DELETE_EMPTY = _driver_sql(delete(ITEMS).where(_row_is(ITEMS), ITEMS.c.orders <= literal_column("0")))
_SET_TIMES = _driver_sql(
    update(ITEMS).where(_row_is(ITEMS)).values(first_ordered=bindparam("first"), last_ordered=bindparam("last"))
)
_ROW_TIMES = _driver_sql(select(ITEMS.c.first_ordered, ITEMS.c.last_ordered).where(_row_is(ITEMS)))
# positional, for a variable number of customers; through the customer index
_CUSTOMER_LINES = "SELECT customer_id, occurred_at, lines FROM order_lines WHERE customer_id IN ({marks})"
