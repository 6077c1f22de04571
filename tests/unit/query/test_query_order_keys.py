"""Orders are found by order_key (the id's first 64 bits) and their full id: ids sharing a key stay two orders,
and a view made before the key (projection version 3) gets its keys when opened. No broker."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timezone

import msgspec

from query_unit_helpers import order

from desktop_app.query.schema import OrderStatus, ensure_schema, order_key
from support.order_stream import amendment_events, cancel_event

SHARED_KEY = ("12345678-9abc-4def-8000-000000000001", "12345678-9abc-4def-9fff-ffffffffffff",
              "12345678-9abc-4def-a000-000000000000")


def with_order_id(placed, order_id: str):
    payload = msgspec.structs.replace(placed.payload, order_id=uuid.UUID(order_id))
    return msgspec.structs.replace(placed, payload=payload)


def view(read_model) -> dict[tuple[str, str, int], tuple[int, int]]:
    return {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders) for r in read_model.items()}


def test_the_key_is_the_ids_first_64_bits_as_a_signed_integer() -> None:
    assert len({order_key(order_id) for order_id in SHARED_KEY}) == 1
    assert order_key("00000000-0000-4000-8000-000000000000") == 0x4000
    assert order_key("ffffffff-ffff-4fff-8000-000000000000") == 0xFFFFFFFFFFFF4FFF - (1 << 64)


def test_orders_whose_ids_share_a_key_stay_apart(projector, read_model, records) -> None:
    first = with_order_id(order("ann", ("Tea", 350, 2)), SHARED_KEY[0])
    second = with_order_id(order("ann", ("Mug", 900, 1)), SHARED_KEY[1])
    projector.apply([records.event(first), records.event(second)])
    never_placed = with_order_id(order("ann", ("Pen", 120, 1)), SHARED_KEY[2])
    taken = msgspec.structs.replace(second, event_id=uuid.uuid4())  # another event, the second's order id

    projector.apply([records.event(cancel_event(first)), records.event(cancel_event(never_placed)),
                     records.event(taken)])

    assert view(read_model) == {("ann", "Mug", 900): (1, 1)}
    assert read_model.order(SHARED_KEY[0]).order.status is OrderStatus.CANCELLED
    assert read_model.order(SHARED_KEY[1]).order.status is OrderStatus.PLACED
    assert read_model.order(SHARED_KEY[2]) is None
    assert sorted(row.reason for row in read_model.ignored()) == [
        f"order {SHARED_KEY[2]} unknown (not placed before it in partition 0)",
        f"order id {SHARED_KEY[1]} is already taken by another order",
    ]


def make_version_3(db_path) -> None:
    with sqlite3.connect(db_path) as connection:  # the orders table of projection version 3
        connection.execute("DROP INDEX ix_orders_key_partition")
        connection.execute("ALTER TABLE orders DROP COLUMN order_key")
        connection.execute('CREATE UNIQUE INDEX ix_orders_order_partition ON orders (order_id, "partition")')


def test_a_view_made_before_the_key_is_read_by_id_until_a_projector_opens_it(projector, read_model, records,
                                                                              db_path) -> None:
    placed = order("cy", ("Pen", 120, 3))
    projector.apply([records.event(placed)])
    make_version_3(db_path)

    assert read_model.order(placed.payload.order_id).order.status is OrderStatus.PLACED
    assert read_model.order(uuid.uuid4()) is None


def test_a_view_made_before_the_key_gets_its_keys_when_opened(projector, read_model, records, db_path) -> None:
    placed = order("bo", ("Lamp", 6000, 1), ("Tea", 350, 1))
    projector.apply([records.event(placed)])
    make_version_3(db_path)

    ensure_schema(projector.engine)  # as every projector's open of the view does
    projector.apply([records.event(cancel_event(placed))])

    assert view(read_model) == {}
    assert read_model.order(placed.payload.order_id).order.status is OrderStatus.CANCELLED
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("SELECT order_key FROM orders").fetchall() == [
            (order_key(str(placed.payload.order_id)),)]


def test_an_order_placed_amended_and_cancelled_in_one_batch_is_written_with_what_the_batch_did(
    projector, read_model, records
) -> None:
    placed = order("ed", ("Tea", 350, 2), at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    cancel, replacement = amendment_events(placed, ("Tea", 350, 5))
    gone = order("ed", ("Rug", 9000, 1))
    projector.apply([records.event(placed), records.event(cancel), records.event(replacement), records.event(gone),
                     records.event(cancel_event(gone, reason="too big", at=datetime(2025, 1, 3, tzinfo=timezone.utc)))])

    assert view(read_model) == {("ed", "Tea", 350): (5, 1)}
    old = read_model.order(placed.payload.order_id)
    assert (old.order.status, old.order.replaced_by, old.order.total_pence) == (
        OrderStatus.REPLACED, replacement.payload.order_id, 700)
    assert [(e.event_type, e.partition, e.offset, e.outcome) for e in old.events] == [
        ("OrderPlaced", 0, 0, "applied"), ("OrderCancelled", 0, 1, "applied")]
    cancelled = read_model.order(gone.payload.order_id)
    assert (cancelled.order.status, cancelled.order.reason, cancelled.order.cancelled_at) == (
        OrderStatus.CANCELLED, "too big", datetime(2025, 1, 3, tzinfo=timezone.utc))
    assert [(e.offset, e.source) for e in cancelled.events] == [(3, "unit-test"), (4, "test")]
    assert [(line.item, line.quantity) for line in cancelled.lines] == [("Rug", 1)]
