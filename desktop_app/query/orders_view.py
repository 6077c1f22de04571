"""The read API over the orders: one row per order, an order with its lines and events, the orders behind a
band row, the ignored events, and £ totals. Mixed into ReadModel (views.py), which provides `_read`.

Search matches an order id from its start (any case), or a customer id anywhere in it, case-insensitively,
as the band tabs' search does (`views.like_pattern`, the one rule).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.query.pounds import pence_to_decimal
from desktop_app.query.schema import IgnoredEvent, OrderedItem, OrderRecord, OrderStatus, order_key
from desktop_app.query.search import like_pattern

T = TypeVar("T")


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=timezone.utc)


def _uuid(text: str | None) -> uuid.UUID | None:
    return None if text is None else uuid.UUID(text)


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: uuid.UUID
    customer_id: str
    placed_at: datetime  # aware, UTC
    source: str
    line_count: int
    total_pence: int
    status: OrderStatus
    cancelled_at: datetime | None
    reason: str | None
    replaces: uuid.UUID | None
    replaced_by: uuid.UUID | None
    partition: int
    offset: int

    @property
    def total(self) -> Decimal:
        return pence_to_decimal(self.total_pence)


@dataclass(frozen=True, slots=True)
class OrderLineRow:
    item: str
    unit_price_pence: int
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return pence_to_decimal(self.unit_price_pence)

    @property
    def line_value_pence(self) -> int:
        return self.unit_price_pence * self.quantity


@dataclass(frozen=True, slots=True)
class OrderEventRow:
    event_type: str
    event_id: uuid.UUID
    partition: int
    offset: int
    occurred_at: datetime  # aware, UTC
    source: str
    outcome: str  # "applied", or "ignored: <why>"


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: OrderRow
    lines: tuple[OrderLineRow, ...]
    events: tuple[OrderEventRow, ...]  # in log order


@dataclass(frozen=True, slots=True)
class IgnoredRow:
    event_id: uuid.UUID
    event_type: str
    order_id: str
    customer_id: str
    partition: int
    offset: int
    occurred_at: datetime  # aware, UTC
    reason: str


_ORDER_COLUMNS = (
    OrderRecord.order_id, OrderRecord.customer_id, OrderRecord.placed_at, OrderRecord.source,
    OrderRecord.line_count, OrderRecord.total_pence, OrderRecord.status, OrderRecord.cancelled_at,
    OrderRecord.reason, OrderRecord.replaces, OrderRecord.replaced_by, OrderRecord.partition, OrderRecord.offset,
)


def _order_row(row: Any) -> OrderRow:
    (order_id, customer_id, placed_at, source, line_count, total, status, cancelled_at, reason, replaces,
     replaced_by, partition, offset) = row
    return OrderRow(uuid.UUID(order_id), customer_id, placed_at.replace(tzinfo=timezone.utc), source, line_count,
                    total, OrderStatus(status), _utc(cancelled_at), reason, _uuid(replaces), _uuid(replaced_by),
                    partition, offset)


def _order_filters(customer: str | None, status: OrderStatus | str | None, search: str | None) -> list[Any]:
    where: list[Any] = []
    if customer is not None:
        where.append(col(OrderRecord.customer_id) == customer)
    if status is not None:
        where.append(col(OrderRecord.status) == OrderStatus(status).value)
    if search:
        text = search.strip()
        id_prefix = like_pattern(text.lower(), anywhere=False)
        where.append(or_(col(OrderRecord.order_id).like(id_prefix, escape="\\"),
                         col(OrderRecord.customer_id).like(like_pattern(text), escape="\\")))
    return where


def _canonical_id(order_id: uuid.UUID | str) -> str | None:
    try:
        return str(order_id if isinstance(order_id, uuid.UUID) else uuid.UUID(str(order_id).strip()))
    except ValueError:
        return None


def _with_id(session: Session, order_id: str) -> list[Any]:
    """Where the order with this id is: its key (the index) and its id, or its id alone in a view of projection
    version 3 not yet opened by a projector that adds the keys (schema.ensure_schema), which has an index on it."""
    columns = {row[1] for row in session.connection().exec_driver_sql("PRAGMA table_info(orders)")}
    by_id = [col(OrderRecord.order_id) == order_id]
    return [col(OrderRecord.order_key) == order_key(order_id), *by_id] if "order_key" in columns else by_id


class OrderReads:
    """The orders' reads; `_read(work)` runs work(session) in one read transaction (ReadModel's)."""

    _read: Callable[[Callable[[Session], Any]], Any]

    def orders(self, customer: str | None = None, status: OrderStatus | str | None = None,
               search: str | None = None, limit: int | None = None, offset: int = 0) -> list[OrderRow]:
        """Orders, newest first (placed time, then log position), filtered by exact customer, status, search."""
        statement = (select(*_ORDER_COLUMNS).where(*_order_filters(customer, status, search))
                     .order_by(col(OrderRecord.placed_at).desc(), col(OrderRecord.seq).desc()).offset(offset))
        if limit is not None:
            statement = statement.limit(limit)
        return self._read(lambda session: [_order_row(row) for row in session.exec(statement)])

    def count_orders(self, customer: str | None = None, status: OrderStatus | str | None = None,
                     search: str | None = None) -> int:
        statement = select(func.count()).select_from(OrderRecord).where(*_order_filters(customer, status, search))
        return self._read(lambda session: session.exec(statement).one())

    def order(self, order_id: uuid.UUID | str) -> OrderDetail | None:
        """The order, its lines as placed, and every event about it (with its outcome), in log order."""
        key = _canonical_id(order_id)
        if key is None:
            return None

        def read(session: Session) -> OrderDetail | None:
            found = session.exec(select(*_ORDER_COLUMNS, OrderRecord.lines, OrderRecord.event_id,
                                        OrderRecord.cancel_event_id, OrderRecord.cancel_partition,
                                        OrderRecord.cancel_offset, OrderRecord.cancel_source)
                                 .where(*_with_id(session, key))).first()
            if found is None:
                return None
            order = _order_row(found[:len(_ORDER_COLUMNS)])
            lines_json, event_id, cancel_id, cancel_partition, cancel_offset, cancel_source = found[len(_ORDER_COLUMNS):]
            events = [OrderEventRow(contracts.ORDER_PLACED, uuid.UUID(bytes=event_id), order.partition, order.offset,
                                    order.placed_at, order.source, "applied")]
            if cancel_id is not None:
                assert order.cancelled_at is not None
                events.append(OrderEventRow(contracts.ORDER_CANCELLED, uuid.UUID(bytes=cancel_id), cancel_partition,
                                            cancel_offset, order.cancelled_at, cancel_source or "", "applied"))
            for row in session.exec(select(IgnoredEvent).where(col(IgnoredEvent.order_id) == key)):
                events.append(OrderEventRow(row.event_type, uuid.UUID(bytes=row.event_id), row.partition, row.offset,
                                            row.occurred_at.replace(tzinfo=timezone.utc), row.source,
                                            f"ignored: {row.reason}"))
            events.sort(key=lambda e: (e.partition, e.offset))
            lines = tuple(OrderLineRow(item, price, quantity) for item, price, quantity in json.loads(lines_json))
            return OrderDetail(order, lines, tuple(events))

        return self._read(read)

    def orders_behind(self, customer_id: str, item: str, unit_price_pence: int) -> list[OrderRow]:
        """The placed orders whose lines make the band row (customer, item, unit price), newest first."""
        statement = (select(*_ORDER_COLUMNS, OrderRecord.lines)
                     .where(col(OrderRecord.customer_id) == customer_id,
                            col(OrderRecord.status) == OrderStatus.PLACED.value)
                     .order_by(col(OrderRecord.placed_at).desc(), col(OrderRecord.seq).desc()))

        def read(session: Session) -> list[OrderRow]:
            return [_order_row(row[:-1]) for row in session.exec(statement)
                    if any(line[0] == item and line[1] == unit_price_pence for line in json.loads(row[-1]))]

        return self._read(read)

    def ignored(self, limit: int = 100) -> list[IgnoredRow]:
        """Valid events that changed no row, the latest in the log first."""
        statement = select(IgnoredEvent).order_by(col(IgnoredEvent.occurred_at).desc()).limit(limit)
        return self._read(lambda session: [
            IgnoredRow(uuid.UUID(bytes=row.event_id), row.event_type, row.order_id, row.customer_id, row.partition,
                       row.offset, row.occurred_at.replace(tzinfo=timezone.utc), row.reason)
            for row in session.exec(statement)
        ])

    def ignored_count(self) -> int:
        return self._read(lambda session: session.exec(select(func.count()).select_from(IgnoredEvent)).one())

    def value_totals(self, customer: str | None = None) -> dict[tuple[str, Band], int]:
        """The £ value of the view in pence per (customer, band): quantity x unit price, summed."""
        value = func.sum(col(OrderedItem.quantity) * col(OrderedItem.unit_price_pence))
        statement = select(OrderedItem.customer_id, OrderedItem.band, value).group_by(
            col(OrderedItem.customer_id), col(OrderedItem.band))
        if customer is not None:
            statement = statement.where(col(OrderedItem.customer_id) == customer)
        return self._read(lambda session: {
            (customer_id, Band(band)): int(total) for customer_id, band, total in session.exec(statement)
        })


__all__ = ["IgnoredRow", "OrderDetail", "OrderEventRow", "OrderLineRow", "OrderReads", "OrderRow", "OrderStatus"]
