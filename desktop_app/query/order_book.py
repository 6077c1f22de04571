"""The orders table: what each counted event does to an order, decided in log order, and written.

The rules (the projector is the final judge, whatever the command side checked):
- An OrderPlaced opens an order, status "placed"; its lines count in ordered_items. An OrderPlaced whose
  order id is already taken in its partition changes nothing and is ignored.
- An OrderCancelled applies to an order of the same customer placed before it in its partition (the key is
  the customer id, so an order and its cancellation share a partition, the cancellation after the order)
  and still placed: the order becomes "cancelled" and exactly its lines leave ordered_items. Otherwise it
  changes no row and is ignored, with the reason (unknown, another customer's, already cancelled).
- Every rule looks only within one partition (an order is known by its id in its partition), and each
  partition is read in order, so the outcome does not depend on how partitions interleave. The one thing
  that crosses partitions is a reused event id whose lower copy is read late (see copies): the events of
  the orders it touched are then judged again, in log order (`take_back`).
- An OrderPlaced that `replaces` an order (an amendment) marks that order "replaced" when its cancellation
  (the amendment's, just before) applied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, bindparam, delete, or_, select, update

from desktop_app import contracts
from desktop_app.query import item_sums
from desktop_app.query.copies import SQL_IN_CHUNK
from desktop_app.query.event_facts import CancelledFacts, Facts, Line, PlacedFacts
from desktop_app.query.item_sums import RowKey, driver_sql, positional_sql
from desktop_app.query.schema import CANCELLED, PLACED, REPLACED, IgnoredEvent, OrderRecord, order_key

ORDERS = OrderRecord.__table__
IGNORED = IgnoredEvent.__table__
_ENCODE = msgspec.json.Encoder().encode  # compact UTF-8 JSON in C (tuples become arrays): 7x json's encoder


def _json(value: Any) -> str:
    return _ENCODE(value).decode()



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
    placed: PlacedFacts | None = None  # a new order's OrderPlaced (its row is written from it: _inserted)
    row: dict[str, Any] = field(default_factory=dict)  # the columns this batch changed
    changed: bool = False


@dataclass(slots=True)
class BookOutcome:
    """What one batch did to the orders, and so to ordered_items."""

    rows: set[RowKey] = field(default_factory=set)  # ordered_items rows touched
    taken: dict[RowKey, set[str]] = field(default_factory=dict)  # rows that lost orders, with their times
    ignored_ids: set[bytes] = field(default_factory=set)  # events the batch recorded as ignored

    @property
    def ignored(self) -> int:
        return len(self.ignored_ids)

    def ignored_new(self, counted: Sequence[Facts]) -> int:
        """How many of the batch's own events were ignored (not those judged again after a take-back)."""
        return sum(fact.event_id in self.ignored_ids for fact in counted)

    def took(self, taken: dict[RowKey, set[str]]) -> None:
        for row, times in taken.items():
            self.taken.setdefault(row, set()).update(times)
            self.rows.add(row)


def take_back(connection: Connection, event_ids: Sequence[bytes], outcome: BookOutcome) -> list[Facts]:
    """Undo what these events did (a lower copy of each, with other content, counts instead; see copies).

    The orders they touched are unwound (their lines leave ordered_items, their rows and ignored events
    go) and the facts of those orders' other events come back, for `apply` to judge again with the batch.
    Rare: only a reused id's lower copy read late gets here.
    """
    taken = set(event_ids)
    keys: set[tuple[str, int]] = set()
    for start in range(0, len(event_ids), SQL_IN_CHUNK):
        chunk = list(event_ids[start:start + SQL_IN_CHUNK])
        # no index on event_id or cancel_event_id (schema.OrderRecord): one scan, and it runs only here
        where = or_(ORDERS.c.event_id.in_(chunk), ORDERS.c.cancel_event_id.in_(chunk))
        keys |= {(order.order_id, order.partition) for order in _stored_orders(connection, where)}
        keys |= {(order_id, partition) for order_id, partition in connection.execute(
            select(IGNORED.c.order_id, IGNORED.c.partition).where(IGNORED.c.event_id.in_(chunk)))}
    facts: list[Facts] = []
    leaving: list[_Order] = []
    for order_id, partition in sorted(keys):
        for_order = and_(ORDERS.c.order_key == order_key(order_id), ORDERS.c.order_id == order_id,
                         ORDERS.c.partition == partition)
        for row in connection.execute(select(ORDERS).where(for_order)).mappings():
            facts += _facts_of_order(row)
            if row["status"] == PLACED:
                leaving += _stored_orders(connection, for_order)
            if row["replaces"] is not None:  # the order it replaced is only cancelled without it
                connection.execute(update(ORDERS).where(
                    ORDERS.c.order_key == order_key(row["replaces"]), ORDERS.c.order_id == row["replaces"],
                    ORDERS.c.partition == partition,
                    ORDERS.c.replaced_by == order_id,
                ).values(status=CANCELLED, replaced_by=None))
        connection.execute(delete(ORDERS).where(for_order))
        ignored_here = and_(IGNORED.c.order_id == order_id, IGNORED.c.partition == partition)
        facts += [_facts_of_ignored(row) for row in connection.execute(select(IGNORED).where(ignored_here)).mappings()]
        connection.execute(delete(IGNORED).where(ignored_here))
    outcome.took(item_sums.subtract(connection, leaving))
    return [fact for fact in facts if fact.event_id not in taken]


def apply(connection: Connection, facts: Sequence[Facts], outcome: BookOutcome) -> None:
    """Apply counted events (any order: they are taken in log order per partition) to orders and rows."""
    ordered = sorted(facts, key=lambda f: (f.partition, f.offset))
    known = _load(connection, ordered)  # by (order id, partition): every rule looks within one partition
    new_orders: list[_Order] = []
    leaving: list[_Order] = []  # stored orders cancelled by this batch
    ignored: list[dict[str, Any]] = []
    for fact in ordered:
        if isinstance(fact, PlacedFacts):
            if (fact.order_id, fact.partition) in known:
                ignored.append(_ignored_row(fact, f"order id {fact.order_id} is already taken by another order"))
                continue
            order = _new_order(fact)
            known[(fact.order_id, fact.partition)] = order
            new_orders.append(order)
            _mark_replaced(known.get((fact.replaces, fact.partition)) if fact.replaces else None, fact)
        else:
            order = known.get((fact.order_id, fact.partition))
            why = _why_not_cancellable(order, fact)
            if why is not None:
                ignored.append(_ignored_row(fact, why))
                continue
            assert order is not None
            order.status = CANCELLED
            order.row.update(status=order.status, cancelled_at=fact.occurred_at, reason=fact.reason,
                             cancel_event_id=fact.event_id, cancel_partition=fact.partition,
                             cancel_offset=fact.offset, cancel_source=fact.source)
            order.changed = True
            if order.in_store:
                leaving.append(order)
    outcome.rows |= item_sums.add(connection, [o for o in new_orders if o.status == PLACED])
    outcome.took(item_sums.subtract(connection, leaving))
    if new_orders:
        connection.exec_driver_sql(_INSERT_ORDER, [_inserted(order) for order in new_orders])
    updates = [{"key": order.order_id, "key_hash": order_key(order.order_id), "key_partition": order.partition,
                **_UPDATED_DEFAULTS, **order.row}
               for order in known.values() if order.in_store and order.changed]
    if updates:
        connection.exec_driver_sql(_UPDATE_ORDER, updates)
    if ignored:
        connection.exec_driver_sql(_INSERT_IGNORED, ignored)
    outcome.ignored_ids.update(row["event_id"] for row in ignored)


def _why_not_cancellable(order: _Order | None, fact: CancelledFacts) -> str | None:
    if order is None:
        return f"order {fact.order_id} unknown (not placed before it in partition {fact.partition})"
    if order.customer_id != fact.customer_id:
        return f"order {fact.order_id} belongs to another customer"
    if order.status != PLACED:
        return f"order {fact.order_id} already {order.status}"
    return None


def _mark_replaced(replaced: _Order | None, amendment: PlacedFacts) -> None:
    if (replaced is None or replaced.status != CANCELLED
            or replaced.customer_id != amendment.customer_id or replaced.row.get("replaced_by") is not None):
        return
    replaced.status = REPLACED
    replaced.row.update(status=replaced.status, replaced_by=amendment.order_id)
    replaced.changed = True


def _new_order(fact: PlacedFacts) -> _Order:
    return _Order(fact.order_id, fact.customer_id, fact.occurred_at, fact.partition, fact.lines,
                  PLACED, in_store=False, placed=fact)


def _inserted(order: _Order) -> tuple[Any, ...]:
    """A new order's row, in _INSERTED's order: its OrderPlaced's facts, and what the batch did to it since."""
    fact, later = order.placed, order.row.get
    assert fact is not None
    return (fact.order_id, order_key(fact.order_id), fact.event_id, fact.customer_id, fact.occurred_at, fact.source,
            fact.partition, fact.offset, len(fact.lines), fact.total_pence, order.status, _json(fact.lines),
            fact.replaces, later("replaced_by"), later("cancelled_at"), later("reason"), later("cancel_event_id"),
            later("cancel_partition"), later("cancel_offset"), later("cancel_source"))


def _ignored_row(fact: Facts, reason: str) -> dict[str, Any]:
    if isinstance(fact, PlacedFacts):
        event_type = contracts.ORDER_PLACED
        detail = {"lines": [list(line) for line in fact.lines], "replaces": fact.replaces}
    else:
        event_type, detail = contracts.ORDER_CANCELLED, {"reason": fact.reason}
    return {"event_id": fact.event_id, "event_type": event_type, "order_id": fact.order_id,
            "customer_id": fact.customer_id, "partition": fact.partition, "offset": fact.offset,
            "occurred_at": fact.occurred_at, "source": fact.source, "reason": reason, "detail": _json(detail)}


def _facts_of_order(row: Any) -> list[Facts]:
    """The events an orders row stands for: its OrderPlaced, and the OrderCancelled that applied to it."""
    facts: list[Facts] = [PlacedFacts(
        event_id=row["event_id"], partition=row["partition"], offset=row["offset"], digest=b"",
        order_id=row["order_id"], customer_id=row["customer_id"], occurred_at=item_sums.stored_text(row["placed_at"]),
        source=row["source"], lines=_lines(row["lines"]), replaces=row["replaces"],
    )]
    if row["cancel_event_id"] is not None:
        facts.append(CancelledFacts(
            event_id=row["cancel_event_id"], partition=row["cancel_partition"], offset=row["cancel_offset"],
            digest=b"", order_id=row["order_id"], customer_id=row["customer_id"],
            occurred_at=item_sums.stored_text(row["cancelled_at"]), source=row["cancel_source"] or "",
            reason=row["reason"] or "",
        ))
    return facts


def _facts_of_ignored(row: Any) -> Facts:
    detail = json.loads(row["detail"])
    common = {"event_id": row["event_id"], "partition": row["partition"], "offset": row["offset"], "digest": b"",
              "order_id": row["order_id"], "customer_id": row["customer_id"],
              "occurred_at": item_sums.stored_text(row["occurred_at"]), "source": row["source"]}
    if row["event_type"] == contracts.ORDER_PLACED:
        return PlacedFacts(**common, lines=_lines(_json(detail["lines"])), replaces=detail["replaces"])
    return CancelledFacts(**common, reason=detail["reason"])


def _lines(text: str) -> tuple[Line, ...]:
    return tuple((item, price, quantity) for item, price, quantity in json.loads(text))


def _load(connection: Connection, facts: Sequence[Facts]) -> dict[tuple[str, int], _Order]:
    """The stored orders these events name (their own, or the one an amendment replaces), by (id, partition)."""
    ids = {fact.order_id for fact in facts}
    ids |= {fact.replaces for fact in facts if isinstance(fact, PlacedFacts) and fact.replaces}
    keys = sorted({order_key(order_id) for order_id in ids})
    known: dict[tuple[str, int], _Order] = {}
    for start in range(0, len(keys), SQL_IN_CHUNK):
        chunk = tuple(keys[start:start + SQL_IN_CHUNK])
        found = connection.exec_driver_sql(_SELECT_BY_KEY.format(marks=",".join("?" * len(chunk))), chunk)
        for order in _orders_of(found):
            if order.order_id in ids:  # a key is not an id: another id may share it
                known[(order.order_id, order.partition)] = order
    return known


def _stored_orders(connection: Connection, where: Any) -> list[_Order]:
    return _orders_of(connection.execute(select(*(ORDERS.c[name] for name in _STORED_COLUMNS)).where(where)))


def _orders_of(rows: Any) -> list[_Order]:
    found = []
    for order_id, customer_id, placed_at, partition, lines, status, replaced_by in rows:
        order = _Order(order_id, customer_id, item_sums.stored_text(placed_at), partition, _lines(lines),
                       status, in_store=True)
        order.row["replaced_by"] = replaced_by
        found.append(order)
    return found


_STORED_COLUMNS = ("order_id", "customer_id", "placed_at", "partition", "lines", "status", "replaced_by")
# plain driver SQL: SQLAlchemy's expanding IN and row processing were a visible share of a batch
_SELECT_BY_KEY = ('SELECT order_id, customer_id, placed_at, "partition", lines, status, replaced_by FROM orders'
                  " WHERE order_key IN ({marks})")


# What an update writes when this batch did not set it: the stored values stay (COALESCE below).
_UPDATED_DEFAULTS = {"replaced_by": None, "cancelled_at": None, "reason": None, "cancel_event_id": None,
                     "cancel_partition": None, "cancel_offset": None, "cancel_source": None}
# _inserted's order: every column but seq (the rowid), checked below
_INSERTED = ("order_id", "order_key", "event_id", "customer_id", "placed_at", "source", "partition", "offset",
             "line_count", "total_pence", "status", "lines", "replaces", "replaced_by", "cancelled_at", "reason",
             "cancel_event_id", "cancel_partition", "cancel_offset", "cancel_source")
if set(_INSERTED) != {column.name for column in ORDERS.columns} - {"seq"} or len(set(_INSERTED)) != len(_INSERTED):
    raise RuntimeError("order_book._INSERTED must name every column of orders but seq, once")
_INSERT_ORDER = positional_sql(ORDERS.insert().values({name: bindparam(name) for name in _INSERTED}), _INSERTED)
_UPDATE_ORDER = (
    "UPDATE orders SET status = :status, replaced_by = coalesce(:replaced_by, replaced_by),"
    " cancelled_at = coalesce(:cancelled_at, cancelled_at), reason = coalesce(:reason, reason),"
    " cancel_event_id = coalesce(:cancel_event_id, cancel_event_id),"
    " cancel_partition = coalesce(:cancel_partition, cancel_partition),"
    " cancel_offset = coalesce(:cancel_offset, cancel_offset),"
    " cancel_source = coalesce(:cancel_source, cancel_source)"
    " WHERE order_key = :key_hash AND partition = :key_partition AND order_id = :key"
)
_INSERT_IGNORED = driver_sql(IGNORED.insert().prefix_with("OR IGNORE"))
