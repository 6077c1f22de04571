"""A reused event id whose lower copy is read late, when the copy that counted was part of an order's life (its
order, or its cancellation): the orders it touched are judged again, so the view, the orders and the ignored
events are what a replay reading the lower partition first gives. No broker."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec

from query_unit_helpers import TOPIC, RecordFactory, order

from desktop_app import contracts
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel
from support.order_stream import amendment_events, cancel_event


def state(path: Path) -> tuple:
    model = ReadModel(path)
    try:
        rows = {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders) for r in model.items()}
        orders = {(o.order_id, o.partition, o.status.value, o.replaced_by) for o in model.orders()}
        ignored = {(i.event_id, i.reason) for i in model.ignored(1000)}
        quarantined = {(q.partition, q.offset, q.reason) for q in model.quarantined(1000)}
        return rows, orders, ignored, quarantined
    finally:
        model.close()


def project(batches: list[list[Record]]) -> tuple:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "readmodel.db"
        engine = open_engine(path, writer=True)
        ensure_schema(engine)
        projector = Projector(engine, TOPIC)
        for batch in batches:
            projector.apply(batch)
        engine.dispose()
        return state(path)


def reusing(event: contracts.Event, customer: str) -> contracts.EventEnvelope:
    return msgspec.structs.replace(order(customer, ("Pen", 120, 1)), event_id=event.event_id)


def both_read_orders(higher: list[contracts.Event], lower: list[contracts.Event]) -> tuple[tuple, tuple]:
    records = RecordFactory()
    on_1 = [records.event(e, partition=1) for e in higher]
    on_0 = [records.event(e, partition=0) for e in lower]
    return project([on_1, on_0]), project([on_0, on_1])


def test_a_reused_cancellation_id_read_late_lets_the_next_cancellation_apply() -> None:
    placed = order("ann", ("Lamp", 6000, 1), ("Tea", 350, 2))
    first_cancel, second_cancel = cancel_event(placed, reason="first"), cancel_event(placed, reason="second")

    late, early = both_read_orders([placed, first_cancel, second_cancel], [reusing(first_cancel, "zed")])

    assert late == early
    rows, orders, ignored, quarantined = late
    assert rows == {("zed", "Pen", 120): (1, 1)}  # ann's order is cancelled, by the second cancellation
    assert ignored == set()
    assert len(quarantined) == 1  # partition 1's copy of the reused id


def test_a_reused_order_id_read_late_makes_its_cancellation_unknown() -> None:
    placed = order("bob", ("Rug", 9000, 1))
    cancel = cancel_event(placed)

    late, early = both_read_orders([placed, cancel], [reusing(placed, "zed")])

    assert late == early
    rows, orders, ignored, _ = late
    assert rows == {("zed", "Pen", 120): (1, 1)}
    assert ignored == {(cancel.event_id, f"order {placed.payload.order_id} unknown (not placed before it in partition 1)")}


def test_a_reused_id_of_an_amendment_read_late_leaves_the_old_order_cancelled_not_replaced() -> None:
    placed = order("cy", ("Mug", 450, 3))
    amend_cancel, replacement = amendment_events(placed, ("Mug", 450, 1))

    late, early = both_read_orders([placed, amend_cancel, replacement], [reusing(replacement, "zed")])

    assert late == early
    rows, orders, _, _ = late
    assert rows == {("zed", "Pen", 120): (1, 1)}
    assert (placed.payload.order_id, 1, "cancelled", None) in orders


def test_the_same_order_id_in_two_partitions_is_two_orders_whatever_is_read_first() -> None:
    placed = order("dee", ("Hat", 1200, 1))
    other = order("eve", ("Hat", 1200, 2))
    elsewhere = msgspec.structs.replace(
        other, payload=msgspec.structs.replace(other.payload, order_id=placed.payload.order_id))

    late, early = both_read_orders([placed], [elsewhere])

    assert late == early
    assert late[0] == {("dee", "Hat", 1200): (1, 1), ("eve", "Hat", 1200): (2, 1)}
