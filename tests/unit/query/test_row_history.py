"""Why a row says what it says (issue 15, point 1): the events behind a band row, a customer's rows and an
order, from the read model, in log order, with running quantities that end at the view's. No broker."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import msgspec
from query_unit_helpers import order

from desktop_app.query.row_history import FROM_READ_MODEL
from support.order_stream import amendment_events, cancel_event


def at(day: int) -> datetime:
    return datetime(2025, 3, day, tzinfo=timezone.utc)


def steps_of(history) -> list[tuple]:
    return [(s.event_type, s.offset, s.item, s.change, s.quantity, s.value_pence, s.outcome.split(":")[0])
            for s in history.steps]


def view_quantity(read_model, customer: str, item: str, price: int) -> int:
    return sum(r.quantity for r in read_model.items(customer=customer) if (r.item, r.unit_price_pence) == (item, price))


def test_a_rows_history_lists_placed_and_cancelled_orders_with_running_totals(projector, read_model, records):
    first = order("ann", ("Tea", 350, 2), ("Kettle", 2499, 1), at=at(1))
    second = order("ann", ("Tea", 350, 3), ("Tea", 350, 1), at=at(2))  # two lines of one row: one step
    other_price = order("ann", ("Tea", 399, 5), at=at(3))
    projector.apply([records.event(first), records.event(second), records.event(other_price)])
    projector.apply([records.event(cancel_event(first, reason="wrong size", at=at(4)))])

    history = read_model.row_history("ann", "Tea", 350)

    assert steps_of(history) == [
        ("OrderPlaced", 0, "Tea", 2, 2, 700, "applied"),
        ("OrderPlaced", 1, "Tea", 4, 6, 2100, "applied"),
        ("OrderCancelled", 3, "Tea", -2, 4, 1400, "applied"),
    ]
    placed, _, cancelled = history.steps
    assert (placed.order_id, placed.event_id, placed.source, placed.partition) == (
        str(first.payload.order_id), first.event_id, "unit-test", 0)
    assert (placed.occurred_at, cancelled.occurred_at, cancelled.note) == (at(1), at(4), "reason: wrong size")
    assert history.source == FROM_READ_MODEL
    # the last running total is the row's quantity in ordered_items, and the history says it agrees
    assert history.steps[-1].quantity == view_quantity(read_model, "ann", "Tea", 350) == 4
    assert history.view_quantities == {("Tea", 350): 4} and history.disagreements() == {}


def test_a_customers_history_covers_every_row_and_a_cancelled_row_ends_at_zero(projector, read_model, records):
    first = order("bo", ("Mug", 450, 2), ("Lamp", 6000, 1), at=at(1))
    second = order("bo", ("Mug", 450, 1), at=at(2))
    projector.apply([records.event(first), records.event(second), records.event(cancel_event(first, at=at(3)))])

    history = read_model.row_history("bo")

    assert steps_of(history) == [
        ("OrderPlaced", 0, "Lamp", 1, 1, 6000, "applied"),  # one step per row, the rows in name order
        ("OrderPlaced", 0, "Mug", 2, 2, 900, "applied"),
        ("OrderPlaced", 1, "Mug", 1, 3, 1350, "applied"),
        ("OrderCancelled", 2, "Lamp", -1, 0, 0, "applied"),
        ("OrderCancelled", 2, "Mug", -2, 1, 450, "applied"),
    ]
    assert history.final_quantities() == {("Lamp", 6000): 0, ("Mug", 450): 1}
    assert {(r.item, r.unit_price_pence): r.quantity for r in read_model.items(customer="bo")} == {("Mug", 450): 1}
    assert history.disagreements() == {}  # the Lamp row is gone from the view: 0 on both sides
    only_mugs = read_model.row_history("bo", "Mug")
    assert [s.item for s in only_mugs.steps] == ["Mug", "Mug", "Mug"]


def test_an_amendment_shows_as_its_cancellation_then_the_order_replacing_it(projector, read_model, records):
    placed = order("cy", ("Pen", 120, 4), at=at(1))
    amend_cancel, replacement = amendment_events(placed, ("Pen", 120, 1), at=at(2))
    projector.apply([records.event(placed), records.event(amend_cancel), records.event(replacement)])

    history = read_model.row_history("cy", "Pen", 120)

    assert steps_of(history) == [
        ("OrderPlaced", 0, "Pen", 4, 4, 480, "applied"),
        ("OrderCancelled", 1, "Pen", -4, 0, 0, "applied"),
        ("OrderPlaced", 2, "Pen", 1, 1, 120, "applied"),
    ]
    assert history.steps[1].note == f"amended: replaced by {replacement.payload.order_id}"
    assert history.steps[2].note == f"amends {placed.payload.order_id}"
    assert history.steps[-1].quantity == view_quantity(read_model, "cy", "Pen", 120) == 1


def test_ignored_events_show_with_their_reason_and_change_nothing(projector, read_model, records):
    placed = order("dee", ("Mug", 450, 2), at=at(1))
    clash = msgspec.structs.replace(placed, event_id=uuid.uuid4())  # another event, the same order id
    never_placed = order("dee", ("Rug", 9000, 1))
    projector.apply([records.event(placed), records.event(clash),
                     records.event(cancel_event(placed, customer="eve", at=at(2))),  # names dee's order
                     records.event(cancel_event(never_placed, at=at(3)))])

    row = read_model.row_history("dee", "Mug", 450)
    assert steps_of(row) == [
        ("OrderPlaced", 0, "Mug", 2, 2, 900, "applied"),
        ("OrderPlaced", 1, "Mug", 0, 2, 900, "ignored"),
        ("OrderCancelled", 2, "Mug", 0, 2, 900, "ignored"),
    ]
    assert row.steps[1].outcome == f"ignored: order id {placed.payload.order_id} is already taken by another order"
    assert row.steps[2].outcome == f"ignored: order {placed.payload.order_id} belongs to another customer"
    # the whole customer's history also has the cancellation of an order it never placed (naming no row)
    whole = read_model.row_history("dee")
    unknown = whole.steps[-1]
    assert (unknown.offset, unknown.item, unknown.change, unknown.quantity) == (3, None, 0, None)
    assert unknown.outcome.startswith(f"ignored: order {never_placed.payload.order_id} unknown")
    assert whole.disagreements() == {} and whole.final_quantities() == {("Mug", 450): 2}


def test_a_row_the_steps_do_not_explain_is_reported_as_a_disagreement(projector, read_model, records):
    projector.apply([records.event(order("fay", ("Cup", 300, 2)))])
    with projector.engine.begin() as connection:  # a view older than orders: a row without its order
        connection.exec_driver_sql("UPDATE ordered_items SET quantity = 5 WHERE customer_id = 'fay'")

    assert read_model.row_history("fay", "Cup", 300).disagreements() == {("Cup", 300): (2, 5)}


def test_an_unknown_customer_has_no_history(projector, read_model, records):
    projector.apply([records.event(order("gus", ("Cup", 300, 2)))])
    history = read_model.row_history("nobody")
    assert (history.steps, history.known) == ((), False)
    assert read_model.row_history("gus", "Cup", 999).known is False


def test_an_orders_history_counts_it_while_placed_and_not_after_its_cancellation(projector, read_model, records):
    placed = order("hal", ("Tea", 350, 2), ("Lamp", 6000, 1), at=at(1))
    cancel = cancel_event(placed, reason="late", at=at(2))
    projector.apply([records.event(placed), records.event(cancel), records.event(cancel_event(placed, at=at(3)))])

    history = read_model.order_history(placed.payload.order_id)

    assert [(s.event_type, s.offset, s.change, s.quantity, s.value_pence, s.outcome.split(":")[0], s.note)
            for s in history.steps] == [
        ("OrderPlaced", 0, 3, 3, 6700, "applied", ""),
        ("OrderCancelled", 1, -3, 0, 0, "applied", "reason: late"),
        ("OrderCancelled", 2, 0, 0, 0, "ignored", ""),
    ]
    assert history.steps[1].event_id == cancel.event_id
    assert history.detail.order.order_id == placed.payload.order_id
    assert read_model.order_history(uuid.uuid4()) is None
    assert read_model.order_history("not an id") is None


def test_rows_named_beyond_plain_ascii_are_found_however_their_lines_were_encoded(projector, read_model, records):
    names = ["Café crème", 'Tea "Earl Grey"', "Back\\slash", "Tea"]
    projector.apply([records.event(order("ida", *[(name, 250, 1) for name in names]))])
    with projector.engine.begin() as connection:  # as json's encoder wrote them before msgspec: non-ASCII escaped
        connection.exec_driver_sql("UPDATE orders SET lines = ?", (json.dumps([[n, 250, 1] for n in names]),))

    for name in names:
        history = read_model.row_history("ida", name, 250)
        assert [(s.item, s.quantity) for s in history.steps] == [(name, 1)], name
        assert history.disagreements() == {}
    assert read_model.row_history("ida", "Tea", 250).steps[0].item == "Tea"  # not "Tea \"Earl Grey\""
