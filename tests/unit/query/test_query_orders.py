"""Orders in the read model: a cancellation subtracts exactly its order's lines, an amendment replaces the order,
and a cancellation the view cannot apply changes nothing and is listed as ignored. No broker."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import msgspec

from query_unit_helpers import order

from desktop_app.query.bands import Band
from desktop_app.query.schema import OrderStatus
from support.order_stream import amendment_events, cancel_event


def view(read_model) -> dict[tuple[str, str, int], tuple[int, int]]:
    return {(r.customer_id, r.item, r.unit_price_pence): (r.quantity, r.orders) for r in read_model.items()}


def at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=timezone.utc)


def test_a_cancellation_subtracts_exactly_its_orders_lines(projector, read_model, records) -> None:
    first = order("ann", ("Tea", 350, 2), ("Kettle", 2499, 1), at=at(1))
    second = order("ann", ("Tea", 350, 3), at=at(2))
    projector.apply([records.event(first), records.event(second)])

    outcome = projector.apply([records.event(cancel_event(first, reason="changed her mind", at=at(3)))])

    assert view(read_model) == {("ann", "Tea", 350): (3, 1)}  # the Kettle row, now at 0, is gone
    assert outcome.changed_keys == {("ann", Band.CHEAP), ("ann", Band.AFFORDABLE)}
    (tea,) = read_model.items()
    assert tea.first_ordered == tea.last_ordered == at(2)  # the cancelled order's time left the row
    detail = read_model.order(first.payload.order_id)
    assert detail.order.status is OrderStatus.CANCELLED
    assert (detail.order.reason, detail.order.cancelled_at) == ("changed her mind", at(3))
    assert [(e.event_type, e.offset, e.outcome) for e in detail.events] == [
        ("OrderPlaced", 0, "applied"), ("OrderCancelled", 2, "applied")]
    assert [(line.item, line.quantity) for line in detail.lines] == [("Tea", 2), ("Kettle", 1)]
    assert read_model.summary().ignored == 0


def test_an_order_placed_and_cancelled_in_one_batch_leaves_no_row(projector, read_model, records) -> None:
    placed = order("bo", ("Lamp", 6000, 1))
    projector.apply([records.event(placed), records.event(cancel_event(placed))])

    assert view(read_model) == {}
    assert [o.status for o in read_model.orders()] == [OrderStatus.CANCELLED]


def test_cancelling_twice_or_an_unknown_order_changes_nothing_and_is_listed(projector, read_model, records) -> None:
    placed = order("cy", ("Pen", 120, 4))
    never_placed = order("cy", ("Rug", 9000, 1))
    projector.apply([records.event(placed), records.event(cancel_event(placed))])
    kept = order("cy", ("Pen", 120, 1))
    projector.apply([records.event(kept)])

    outcome = projector.apply([records.event(cancel_event(placed)), records.event(cancel_event(never_placed))])

    assert (outcome.ignored, outcome.applied, outcome.changed_keys) == (2, 0, frozenset())
    assert view(read_model) == {("cy", "Pen", 120): (1, 1)}
    reasons = {row.reason for row in read_model.ignored()}
    assert reasons == {f"order {placed.payload.order_id} already cancelled",
                       f"order {never_placed.payload.order_id} unknown (not placed before it in partition 0)"}
    assert read_model.summary().ignored == 2
    assert [e.outcome for e in read_model.order(placed.payload.order_id).events] == [
        "applied", "applied", f"ignored: order {placed.payload.order_id} already cancelled"]


def test_a_cancellation_naming_another_customer_is_ignored(projector, read_model, records) -> None:
    placed = order("dee", ("Mug", 450, 2))
    projector.apply([records.event(placed), records.event(cancel_event(placed, customer="eve"))])

    assert view(read_model) == {("dee", "Mug", 450): (2, 1)}
    (ignored,) = read_model.ignored()
    assert ignored.reason == f"order {placed.payload.order_id} belongs to another customer"


def test_a_cancellation_before_its_order_in_the_log_is_ignored(projector, read_model, records) -> None:
    placed = order("fay", ("Clock", 3000, 1))
    projector.apply([records.event(cancel_event(placed)), records.event(placed)])

    assert view(read_model) == {("fay", "Clock", 3000): (1, 1)}
    assert read_model.order(placed.payload.order_id).order.status is OrderStatus.PLACED


def test_a_cancellation_in_another_partition_than_its_order_is_ignored_whatever_is_read_first(
    projector, read_model, records
) -> None:
    placed = order("gil", ("Desk", 15000, 1))
    cancel = cancel_event(placed)
    projector.apply([records.event(placed, partition=0)])
    projector.apply([records.event(cancel, partition=1)])

    assert view(read_model) == {("gil", "Desk", 15000): (1, 1)}
    (ignored,) = read_model.ignored()
    assert ignored.reason == f"order {placed.payload.order_id} unknown (not placed before it in partition 1)"


def test_an_amendment_replaces_the_order(projector, read_model, records) -> None:
    placed = order("hal", ("Tea", 350, 2), ("Mug", 450, 1))
    projector.apply([records.event(placed)])
    cancel, replacement = amendment_events(placed, ("Tea", 350, 5))

    projector.apply([records.event(cancel), records.event(replacement)])

    assert view(read_model) == {("hal", "Tea", 350): (5, 1)}
    old = read_model.order(placed.payload.order_id).order
    new = read_model.order(replacement.payload.order_id).order
    assert (old.status, old.replaced_by) == (OrderStatus.REPLACED, replacement.payload.order_id)
    assert (new.status, new.replaces, new.total_pence) == (OrderStatus.PLACED, placed.payload.order_id, 1750)


def test_a_re_sent_cancellation_counts_once(projector, read_model, records) -> None:
    placed = order("ida", ("Hat", 1200, 1), ("Hat", 1200, 2))  # two lines of one row: one order of it
    cancel = cancel_event(placed)
    projector.apply([records.event(placed), records.event(order("ida", ("Hat", 1200, 1)))])

    projector.apply([records.event(cancel), records.event(cancel)])

    assert view(read_model) == {("ida", "Hat", 1200): (1, 1)}
    assert read_model.ignored() == []


def test_an_order_id_taken_by_another_order_is_ignored(projector, read_model, records) -> None:
    placed = order("jo", ("Pen", 120, 1))
    clash = msgspec.structs.replace(placed, event_id=uuid.uuid4())  # another event, the same order id
    projector.apply([records.event(placed), records.event(clash)])

    assert view(read_model) == {("jo", "Pen", 120): (1, 1)}
    (ignored,) = read_model.ignored()
    assert ignored.reason == f"order id {placed.payload.order_id} is already taken by another order"


def test_orders_are_listed_newest_first_searched_and_totalled(projector, read_model, records) -> None:
    older = order("kim", ("Tea", 350, 2), at=at(1))
    newer = order("lee", ("Lamp", 6000, 1), ("Tea", 350, 1), at=at(2))
    projector.apply([records.event(older), records.event(newer), records.event(cancel_event(older))])

    assert [o.customer_id for o in read_model.orders()] == ["lee", "kim"]
    assert [o.customer_id for o in read_model.orders(status="placed")] == ["lee"]
    assert [o.customer_id for o in read_model.orders(search="KI")] == ["kim"]
    prefix = str(newer.payload.order_id)[:8].upper()
    assert [o.order_id for o in read_model.orders(search=prefix)] == [newer.payload.order_id]
    assert read_model.count_orders(customer="kim") == 1
    assert (read_model.orders()[0].line_count, str(read_model.orders()[0].total)) == (2, "63.50")
    assert [o.order_id for o in read_model.orders_behind("lee", "Tea", 350)] == [newer.payload.order_id]
    assert read_model.orders_behind("kim", "Tea", 350) == []  # cancelled
    assert read_model.value_totals() == {("lee", Band.EXPENSIVE): 6000, ("lee", Band.CHEAP): 350}
    assert read_model.value_of_items(band=Band.CHEAP) == 350
    assert read_model.order("not an order id") is None


def test_an_order_naming_a_row_twice_counts_once_in_it_and_the_rows_times_span_the_batch(
    projector, read_model, records
) -> None:
    twice = order("di", ("Tea", 350, 2), ("Tea", 350, 3), at=at(5))
    earlier = order("di", ("Tea", 350, 1), at=at(2))
    later = order("di", ("Tea", 350, 4), ("Mug", 900, 1), ("Tea", 350, 1), at=at(9))
    projector.apply([records.event(twice), records.event(earlier), records.event(later)])

    assert view(read_model) == {("di", "Tea", 350): (11, 3), ("di", "Mug", 900): (1, 1)}
    tea = next(row for row in read_model.items() if row.item == "Tea")
    assert (tea.first_ordered, tea.last_ordered) == (at(2), at(9))
