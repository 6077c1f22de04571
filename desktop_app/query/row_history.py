"""Why a row says what it says: the events that built a band row (or every row of a customer) or an order,
in log order, with the row's running quantity and £ value after each. Mixed into ReadModel (views.py).

Everything here comes from the read model, never from the log: the `orders` table keeps each order's lines
as placed with the position of its OrderPlaced and of the OrderCancelled that applied to it, and
`ignored_events` keeps the valid events that changed nothing, with the reason. Together they are every event
the projector counted for a customer, so the running quantities end at what `ordered_items` holds (each
history carries the view's own quantities, read in the same snapshot, so a disagreement shows instead of
hiding). The raw record behind a step is in the log: QueryService.raw_event reads it (see raw_event.py).

Log order is (partition, offset): a customer's events share one partition (the key is the customer id),
so within a customer this is the order the projector applied them in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgspec
from sqlalchemy import or_
from sqlmodel import Session, col, select

from desktop_app import contracts
from desktop_app.query.event_facts import row_quantities
from desktop_app.query.item_sums import stored_text
from desktop_app.query.orders_view import OrderDetail
from desktop_app.query.schema import IgnoredEvent, OrderedItem, OrderRecord, OrderStatus

FROM_READ_MODEL = "read model"  # where steps come from (the raw event comes from the log)
APPLIED = "applied"

RowOf = tuple[str, int]  # (item, unit_price_pence): one row of the customer asked about


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One event, as it touched one row (an order's event touching two rows is two steps, same position)."""

    occurred_at: datetime  # aware, UTC: the event's own time
    event_type: str
    event_id: uuid.UUID
    order_id: str
    source: str  # the desk that wrote it
    partition: int
    offset: int
    outcome: str  # "applied", or "ignored: <why>" (as OrderReads.order says it)
    item: str | None  # the row; None for an event naming no row (an order history, or a rowless ignored one)
    unit_price_pence: int | None
    change: int  # quantity added (+) or taken back out (-); 0 when ignored
    quantity: int | None  # the running quantity after this step (of the row; of the order, for an order)
    value_pence: int | None  # the running £ value after this step, in pence
    note: str = ""  # a cancellation's reason, what an amendment replaced

    @property
    def applied(self) -> bool:
        return self.outcome == APPLIED

    @property
    def position(self) -> tuple[int, int]:
        return (self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class RowHistory:
    """The steps behind a customer's rows (one row when item and price are given), in log order."""

    customer_id: str
    item: str | None
    unit_price_pence: int | None
    steps: tuple[HistoryStep, ...]
    view_quantities: dict[RowOf, int]  # ordered_items' quantity of each row asked about, same snapshot
    source: str = FROM_READ_MODEL

    @property
    def known(self) -> bool:
        """False when the view knows nothing of these rows (no order, no ignored event, no row)."""
        return bool(self.steps or self.view_quantities)

    def final_quantities(self) -> dict[RowOf, int]:
        """Each row's last running quantity (a row whose orders were all cancelled ends at 0)."""
        final: dict[RowOf, int] = {}
        for step in self.steps:
            if step.item is not None and step.unit_price_pence is not None and step.quantity is not None:
                final[(step.item, step.unit_price_pence)] = step.quantity
        return final

    def disagreements(self) -> dict[RowOf, tuple[int, int]]:
        """Rows whose steps do not add up to the view's quantity: row -> (from the steps, in the view).
        Empty when the view is sound (a view built before orders existed may lack the steps)."""
        final = self.final_quantities()
        return {row: (final.get(row, 0), self.view_quantities.get(row, 0))
                for row in sorted(set(final) | set(self.view_quantities))
                if final.get(row, 0) != self.view_quantities.get(row, 0)}


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """An order's events in log order, with what of it counts in the view after each."""

    detail: OrderDetail
    steps: tuple[HistoryStep, ...]
    source: str = FROM_READ_MODEL


@dataclass(slots=True)
class _Event:
    """An event as found in the tables, before the running totals: its rows and their changes."""

    occurred_at: datetime
    event_type: str
    event_id: bytes
    order_id: str
    source: str
    partition: int
    offset: int
    outcome: str
    changes: dict[RowOf, int]  # per row touched (0s for an ignored event); empty: it names no row
    note: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


def _wanted(item: str | None, price: int | None) -> Callable[[RowOf], bool]:
    return lambda row: (item is None or row[0] == item) and (price is None or row[1] == price)


# Read with plain driver SQL: times come back as their stored text and are parsed only for the orders that
# hold a wanted row (SQLAlchemy's DateTime processing of every order of a customer was most of the read).
_CUSTOMER_ORDERS = (
    "SELECT order_id, event_id, placed_at, source, partition, offset, lines, status, replaces, replaced_by, reason,"
    " cancel_event_id, cancelled_at, cancel_source, cancel_partition, cancel_offset FROM orders WHERE customer_id = ?"
)
_decode_lines = msgspec.json.Decoder(list[tuple[str, int, int]]).decode


def _time_of(stored: Any) -> datetime:
    return _utc(datetime.fromisoformat(stored_text(stored)))


def _may_hold(item: str | None) -> Callable[[str], bool]:
    """A quick look at an order's lines JSON before decoding it: False only when `item` cannot be in it. Only
    for plain ASCII names, which every encoder of the lines (json's, msgspec's) writes as they are."""
    if item is None or not item.isascii() or '"' in item or "\\" in item:
        return lambda _lines: True
    quoted = f'"{item}"'
    return lambda lines: quoted in lines


def _order_events(row: Any, wanted: Callable[[RowOf], bool]) -> list[_Event]:
    """An order's OrderPlaced (+ its lines on the wanted rows) and the OrderCancelled that applied (-)."""
    (order_id, event_id, placed_at, source, partition, offset, lines, status, replaces, replaced_by, reason,
     cancel_id, cancelled_at, cancel_source, cancel_partition, cancel_offset) = row
    quantities = {key: quantity for key, quantity in row_quantities(_decode_lines(lines)).items() if wanted(key)}
    if not quantities:
        return []
    events = [_Event(_time_of(placed_at), contracts.ORDER_PLACED, event_id, order_id, source, partition, offset,
                     APPLIED, quantities, f"amends {replaces}" if replaces else "")]
    if cancel_id is not None:
        note = f"amended: replaced by {replaced_by}" if status == OrderStatus.REPLACED.value and replaced_by \
            else (f"reason: {reason}" if reason else "")
        events.append(_Event(_time_of(cancelled_at), contracts.ORDER_CANCELLED, cancel_id, order_id,
                             cancel_source or "", cancel_partition, cancel_offset, APPLIED,
                             {key: -quantity for key, quantity in quantities.items()}, note))
    return events


def _ignored_event(row: IgnoredEvent, changes: dict[RowOf, int]) -> _Event:
    return _Event(_time_of(row.occurred_at), row.event_type, row.event_id, row.order_id, row.source, row.partition,
                  row.offset, f"ignored: {row.reason}", changes, "")


def _running(events: Iterable[_Event]) -> tuple[HistoryStep, ...]:
    """The events in log order, one step per row touched, with each row's running quantity and value."""
    quantities: dict[RowOf, int] = {}
    steps: list[HistoryStep] = []
    for event in sorted(events, key=lambda e: (e.partition, e.offset)):
        rows = sorted(event.changes.items()) or [(None, 0)]
        for row, change in rows:
            quantity = value = None
            if row is not None:
                quantity = quantities[row] = quantities.get(row, 0) + change
                value = quantity * row[1]
            steps.append(HistoryStep(
                event.occurred_at, event.event_type, uuid.UUID(bytes=event.event_id), event.order_id, event.source,
                event.partition, event.offset, event.outcome, None if row is None else row[0],
                None if row is None else row[1], change, quantity, value, event.note))
    return tuple(steps)


class RowHistoryReads:
    """The histories; `_read(work)` runs work(session) in one read transaction, `order` is OrderReads'."""

    _read: Callable[[Callable[[Session], Any]], Any]
    order: Callable[[uuid.UUID | str], OrderDetail | None]

    def row_history(self, customer_id: str, item: str | None = None,
                    unit_price_pence: int | None = None) -> RowHistory:
        """The events behind the customer's rows: one row (item and price), an item's rows, or all of them."""
        wanted = _wanted(item, unit_price_pence)

        def read(session: Session) -> RowHistory:
            events: list[_Event] = []
            touching: dict[tuple[str, int], set[RowOf]] = {}  # (order id, partition) -> wanted rows it holds
            may_hold = _may_hold(item)
            for row in session.connection().exec_driver_sql(_CUSTOMER_ORDERS, (customer_id,)):
                found = _order_events(row, wanted) if may_hold(row[6]) else []
                if found:
                    events += found
                    touching[(row[0], row[4])] = set(found[0].changes)
            for ignored in _ignored_of(session, customer_id):
                rows = _rows_of_ignored(ignored, touching, wanted)
                if rows is None and ignored.customer_id == customer_id and item is None and unit_price_pence is None:
                    rows = set()  # naming no row of its customer (an unknown order): part of the whole history
                if rows is not None:
                    events.append(_ignored_event(ignored, dict.fromkeys(rows, 0)))
            return RowHistory(customer_id, item, unit_price_pence, _running(events),
                              _view_quantities(session, customer_id, wanted))

        return self._read(read)

    def order_history(self, order_id: uuid.UUID | str) -> OrderHistory | None:
        """The order's events (OrderReads.order), each with the quantity and £ value of the order still
        counted in the view after it: all of it once placed, none once cancelled."""
        detail = self.order(order_id)
        if detail is None:
            return None
        order = detail.order
        quantity = sum(line.quantity for line in detail.lines)
        counted = 0  # quantity of the order counted in the view, as the events go
        steps = []
        for event in detail.events:
            change, note = 0, ""
            if event.outcome == APPLIED and event.event_type == contracts.ORDER_PLACED:
                change, note = quantity - counted, f"amends {order.replaces}" if order.replaces else ""
            elif event.outcome == APPLIED:
                change = -counted
                note = (f"amended: replaced by {order.replaced_by}" if order.status is OrderStatus.REPLACED
                        and order.replaced_by else (f"reason: {order.reason}" if order.reason else ""))
            counted += change
            steps.append(HistoryStep(
                event.occurred_at, event.event_type, event.event_id, str(order.order_id), event.source,
                event.partition, event.offset, event.outcome, None, None, change, counted,
                order.total_pence if counted else 0, note))
        return OrderHistory(detail, tuple(steps))


def _ignored_of(session: Session, customer_id: str) -> list[IgnoredEvent]:
    """The customer's ignored events, and other customers' ones naming the customer's orders."""
    customers_orders = select(OrderRecord.order_id).where(col(OrderRecord.customer_id) == customer_id)
    return list(session.exec(select(IgnoredEvent).where(or_(
        col(IgnoredEvent.customer_id) == customer_id, col(IgnoredEvent.order_id).in_(customers_orders)))))


def _rows_of_ignored(row: IgnoredEvent, touching: dict[tuple[str, int], set[RowOf]],
                     wanted: Callable[[RowOf], bool]) -> set[RowOf] | None:
    """The wanted rows an ignored event concerns: those of the order it names, or an ignored OrderPlaced's
    own lines; None if it concerns none of them."""
    rows = set(touching.get((row.order_id, row.partition), set()))
    if row.event_type == contracts.ORDER_PLACED:
        lines = json.loads(row.detail).get("lines") or []
        rows |= {key for key in row_quantities([tuple(line) for line in lines]) if wanted(key)}
    return rows or None


def _view_quantities(session: Session, customer_id: str, wanted: Callable[[RowOf], bool]) -> dict[RowOf, int]:
    statement = select(OrderedItem.item, OrderedItem.unit_price_pence, OrderedItem.quantity).where(
        col(OrderedItem.customer_id) == customer_id)  # the primary key's first column: a few rows to filter
    return {(item, price): quantity for item, price, quantity in session.exec(statement) if wanted((item, price))}


__all__ = ["FROM_READ_MODEL", "HistoryStep", "OrderHistory", "RowHistory", "RowHistoryReads"]
