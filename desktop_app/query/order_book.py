"""The orders table: what each counted event does to an order, decided in log order, and written.

The rules (the projector is the final judge, whatever the command side checked):
- An OrderPlaced opens an order, status "placed"; its lines count in ordered_items. An OrderPlaced whose
  order id is already taken changes nothing and is ignored.
- An OrderCancelled applies to an order of the same customer placed before it in its partition (the key is
  the customer id, so an order and its cancellation share a partition, the cancellation after the order)
  and still placed: the order becomes "cancelled" and exactly its lines leave ordered_items. Otherwise it
  changes no row and is ignored, with the reason (unknown, another customer's, already cancelled). Only
  positions within one partition are compared, so the outcome does not depend on how partitions interleave.
- An OrderPlaced that `replaces` an order (an amendment) marks that order "replaced" when its cancellation
  (the amendment's, just before) applied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from desktop_app import contracts
from desktop_app.query import item_sums
from desktop_app.query.copies import SQL_IN_CHUNK
from desktop_app.query.event_facts import CancelledFacts, Facts, Line, PlacedFacts
from desktop_app.query.item_sums import RowKey, driver_sql
from desktop_app.query.schema import IgnoredEvent, OrderRecord, OrderStatus

ORDERS = OrderRecord.__table__
IGNORED = IgnoredEvent.__table__
_LINES_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(slots=True)
class _Order:
    """One orders row as this batch decides it."""

    order_id: str
    customer_id: str
    placed_at: str
    partition: int
    lines: tuple[Line, ...]
    status: str
    in_store: bool  # already in the orders table (else inserted by this batch)
    row: dict[str, Any] = field(default_factory=dict)  # the columns to write (all of them for a new order)
    changed: bool = False


@dataclass(slots=True)
class BookOutcome:
    """What one batch did to the orders, and so to ordered_items."""

    rows: set[RowKey] = field(default_factory=set)  # ordered_items rows touched
    taken: dict[RowKey, set[str]] = field(default_factory=dict)  # rows that lost orders, with their times
    ignored: int = 0

    def took(self, taken: dict[RowKey, set[str]]) -> None:
        for row, times in taken.items():
            self.taken.setdefault(row, set()).update(times)
            self.rows.add(row)


def take_back(connection: Connection, event_ids: Sequence[bytes], outcome: BookOutcome) -> None:
    """Undo what these events did (a lower copy of each, with other content, counts instead; see copies).

    An order they placed leaves (its lines too, if it still counted); a cancellation they made is undone
    (the order counts again); an event they had ignored is forgotten.
    """
    placed: list[_Order] = []
    restored: list[_Order] = []
    for start in range(0, len(event_ids), SQL_IN_CHUNK):
        chunk = list(event_ids[start:start + SQL_IN_CHUNK])
        for order in _stored_orders(connection, ORDERS.c.event_id.in_(chunk)):
            if order.status == OrderStatus.PLACED.value:
                placed.append(order)
        connection.execute(delete(ORDERS).where(ORDERS.c.event_id.in_(chunk)))
        # no index on cancel_event_id: this scan runs only when a reused id's lower copy is read late
        for order in _stored_orders(connection, ORDERS.c.cancel_event_id.in_(chunk)):
            restored.append(order)
        connection.execute(update(ORDERS).where(ORDERS.c.cancel_event_id.in_(chunk)).values(
            status=OrderStatus.PLACED.value, replaced_by=None, cancelled_at=None, reason=None,
            cancel_event_id=None, cancel_partition=None, cancel_offset=None, cancel_source=None,
        ))
        connection.execute(delete(IGNORED).where(IGNORED.c.event_id.in_(chunk)))
    outcome.took(item_sums.subtract(connection, placed))
    outcome.rows |= item_sums.add(connection, restored)


def apply(connection: Connection, facts: Sequence[Facts], outcome: BookOutcome) -> None:
    """Apply counted events (any order: they are taken in log order per partition) to orders and rows."""
    ordered = sorted(facts, key=lambda f: (f.partition, f.offset))
    known = _load(connection, ordered)
    new_orders: list[_Order] = []
    leaving: list[_Order] = []  # stored orders cancelled by this batch
    ignored: list[dict[str, Any]] = []
    for fact in ordered:
        if isinstance(fact, PlacedFacts):
            taken = known.get(fact.order_id)
            if taken is not None:
                ignored.append(_ignored_row(fact, f"order id {fact.order_id} is already taken by another order"))
                continue
            order = _new_order(fact)
            known[fact.order_id] = order
            new_orders.append(order)
            _mark_replaced(known.get(fact.replaces) if fact.replaces else None, fact)
        else:
            order = known.get(fact.order_id)
            why = _why_not_cancellable(order, fact)
            if why is not None:
                ignored.append(_ignored_row(fact, why))
                continue
            assert order is not None
            order.status = OrderStatus.CANCELLED.value
            order.row.update(status=order.status, cancelled_at=fact.occurred_at, reason=fact.reason,
                             cancel_event_id=fact.event_id, cancel_partition=fact.partition,
                             cancel_offset=fact.offset, cancel_source=fact.source)
            order.changed = True
            if order.in_store:
                leaving.append(order)
    outcome.rows |= item_sums.add(connection, [o for o in new_orders if o.status == OrderStatus.PLACED.value])
    outcome.took(item_sums.subtract(connection, leaving))
    if new_orders:
        connection.exec_driver_sql(_INSERT_ORDER, [order.row for order in new_orders])
    updates = [{"key": order.order_id, **_UPDATED_DEFAULTS, **order.row}
               for order in known.values() if order.in_store and order.changed]
    if updates:
        connection.exec_driver_sql(_UPDATE_ORDER, updates)
    if ignored:
        connection.exec_driver_sql(_INSERT_IGNORED, ignored)
    outcome.ignored += len(ignored)


def _why_not_cancellable(order: _Order | None, fact: CancelledFacts) -> str | None:
    if order is None or order.partition != fact.partition:
        return f"order {fact.order_id} unknown (not placed before it in partition {fact.partition})"
    if order.customer_id != fact.customer_id:
        return f"order {fact.order_id} belongs to another customer"
    if order.status != OrderStatus.PLACED.value:
        return f"order {fact.order_id} already {order.status}"
    return None


def _mark_replaced(replaced: _Order | None, amendment: PlacedFacts) -> None:
    if (replaced is None or replaced.status != OrderStatus.CANCELLED.value
            or replaced.customer_id != amendment.customer_id or replaced.partition != amendment.partition
            or replaced.row.get("replaced_by") is not None):
        return
    replaced.status = OrderStatus.REPLACED.value
    replaced.row.update(status=replaced.status, replaced_by=amendment.order_id)
    replaced.changed = True


def _new_order(fact: PlacedFacts) -> _Order:
    row = {
        "order_id": fact.order_id, "event_id": fact.event_id, "customer_id": fact.customer_id,
        "placed_at": fact.occurred_at, "source": fact.source, "partition": fact.partition, "offset": fact.offset,
        "line_count": len(fact.lines), "total_pence": fact.total_pence, "status": OrderStatus.PLACED.value,
        "lines": _LINES_JSON([list(line) for line in fact.lines]), "replaces": fact.replaces,
        **_UPDATED_DEFAULTS,
    }
    return _Order(fact.order_id, fact.customer_id, fact.occurred_at, fact.partition, fact.lines,
                  OrderStatus.PLACED.value, in_store=False, row=row)


def _ignored_row(fact: Facts, reason: str) -> dict[str, Any]:
    event_type = contracts.ORDER_PLACED if isinstance(fact, PlacedFacts) else contracts.ORDER_CANCELLED
    return {"event_id": fact.event_id, "event_type": event_type, "order_id": fact.order_id,
            "customer_id": fact.customer_id, "partition": fact.partition, "offset": fact.offset,
            "occurred_at": fact.occurred_at, "source": fact.source, "reason": reason}


def _load(connection: Connection, facts: Sequence[Facts]) -> dict[str, _Order]:
    """The stored orders these events name (their own, or the one an amendment replaces)."""
    ids = {fact.order_id for fact in facts}
    ids |= {fact.replaces for fact in facts if isinstance(fact, PlacedFacts) and fact.replaces}
    wanted = sorted(ids)
    known: dict[str, _Order] = {}
    for start in range(0, len(wanted), SQL_IN_CHUNK):
        for order in _stored_orders(connection, ORDERS.c.order_id.in_(wanted[start:start + SQL_IN_CHUNK])):
            known[order.order_id] = order
    return known


def _stored_orders(connection: Connection, where: Any) -> list[_Order]:
    columns = (ORDERS.c.order_id, ORDERS.c.customer_id, ORDERS.c.placed_at, ORDERS.c.partition, ORDERS.c.lines,
               ORDERS.c.status, ORDERS.c.replaced_by)
    found = []
    for order_id, customer_id, placed_at, partition, lines, status, replaced_by in connection.execute(
        select(*columns).where(where)
    ):
        order = _Order(order_id, customer_id, item_sums.stored_text(placed_at), partition,
                       tuple((item, price, quantity) for item, price, quantity in json.loads(lines)),
                       status, in_store=True)
        order.row["replaced_by"] = replaced_by
        found.append(order)
    return found


# What an update writes when this batch did not set it: the stored values stay (COALESCE below).
_UPDATED_DEFAULTS = {"replaced_by": None, "cancelled_at": None, "reason": None, "cancel_event_id": None,
                     "cancel_partition": None, "cancel_offset": None, "cancel_source": None}
_INSERT_ORDER = driver_sql(ORDERS.insert().values({
    column.name: bindparam(column.name) for column in ORDERS.columns if column.name != "seq"
}))
_UPDATE_ORDER = (
    "UPDATE orders SET status = :status, replaced_by = coalesce(:replaced_by, replaced_by),"
    " cancelled_at = coalesce(:cancelled_at, cancelled_at), reason = coalesce(:reason, reason),"
    " cancel_event_id = coalesce(:cancel_event_id, cancel_event_id),"
    " cancel_partition = coalesce(:cancel_partition, cancel_partition),"
    " cancel_offset = coalesce(:cancel_offset, cancel_offset),"
    " cancel_source = coalesce(:cancel_source, cancel_source) WHERE order_id = :key"
)
_INSERT_IGNORED = driver_sql(IGNORED.insert().prefix_with("OR IGNORE"))
