"""Orders on the real broker: cancellations written by hand to the topic, read by the live projector; the live
view, a rebuild and a fresh replay agree; a view built before orders existed is rebuilt in the shadow."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from desktop_app.query import schema
from desktop_app.query.bands import Band
from desktop_app.query.schema import OrderStatus
from support.order_stream import amendment_events, cancel_event

from query_live_helpers import WAIT_S, order, produce_events, snapshot

T0 = datetime(2025, 7, 1, 9, 0, tzinfo=timezone.utc)


def orders_of(service) -> list[tuple]:
    return [(o.order_id, o.customer_id, o.status.value, o.total_pence, o.replaced_by) for o in service.orders()]


def ignored_of(service) -> set[tuple[str, str]]:
    return {(str(row.order_id), row.reason) for row in service.ignored(1000)}


def test_cancellations_by_hand_live_rebuilt_and_fresh_agree(topic_ready, start_service, tmp_path) -> None:
    kept = order("live-ann", ("Tea", 350, 2), at=T0)
    cancelled = order("live-ann", ("Tea", 350, 3), ("Lamp", 6500, 1), at=T0 + timedelta(minutes=1))
    only_one = order("live-bob", ("Rug", 9000, 1), at=T0 + timedelta(minutes=2))
    never_placed = order("live-bob", ("Pen", 120, 1))
    amended = order("live-cy", ("Mug", 450, 4), at=T0)
    amend_cancel, replacement = amendment_events(amended, ("Mug", 450, 1), at=T0 + timedelta(minutes=5))
    service = start_service()
    produce_events(topic_ready, [kept, cancelled, only_one, amended])
    assert service.catch_up(WAIT_S)
    assert service.value_of_items() == 700 + 1050 + 6500 + 9000 + 1800

    produce_events(topic_ready, [
        cancel_event(cancelled, reason="wrong size"), cancel_event(only_one),
        cancel_event(cancelled),  # already cancelled
        cancel_event(never_placed),  # unknown
        amend_cancel, replacement,
    ])
    assert service.catch_up(WAIT_S)

    rows = {(r.customer_id, r.item): (r.quantity, r.orders, r.line_value_pence) for r in service.items()}
    assert rows == {("live-ann", "Tea"): (2, 1, 700), ("live-cy", "Mug"): (1, 1, 450)}  # Lamp and Rug rows gone
    assert service.value_totals() == {("live-ann", Band.CHEAP): 700, ("live-cy", Band.CHEAP): 450}
    assert ignored_of(service) == {
        (str(cancelled.payload.order_id), f"order {cancelled.payload.order_id} already cancelled"),
        (str(never_placed.payload.order_id), f"order {never_placed.payload.order_id} unknown "
                                             f"(not placed before it in partition {_partition_of(service, only_one)})"),
    }
    old = service.order(amended.payload.order_id).order
    assert (old.status, old.replaced_by) == (OrderStatus.REPLACED, replacement.payload.order_id)
    detail = service.order(cancelled.payload.order_id)
    assert [(e.event_type, e.outcome.split(":")[0]) for e in detail.events] == [
        ("OrderPlaced", "applied"), ("OrderCancelled", "applied"), ("OrderCancelled", "ignored")]
    assert len({e.partition for e in detail.events}) == 1  # keyed by the customer: one partition, in order

    live = (snapshot(service), orders_of(service), ignored_of(service), service.summary().ignored)
    assert service.rebuild().completed
    assert service.catch_up(WAIT_S)
    rebuilt = (snapshot(service), orders_of(service), ignored_of(service), service.summary().ignored)
    fresh_service = start_service(tmp_path / "fresh")
    assert fresh_service.catch_up(WAIT_S)
    fresh = (snapshot(fresh_service), orders_of(fresh_service), ignored_of(fresh_service),
             fresh_service.summary().ignored)
    assert live[3] == 2
    assert rebuilt == live
    assert fresh == live


def _partition_of(service, placed) -> int:
    return service.order(placed.payload.order_id).order.partition


def test_a_view_built_before_orders_existed_is_rebuilt_in_the_shadow_with_values(topic_ready, start_service) -> None:
    placed = order("old-view", ("Kettle", 2499, 2), at=T0)
    produce_events(topic_ready, [placed])
    first = start_service()
    assert first.catch_up(WAIT_S)
    view_path = first.view_path
    first.close()
    # make the file what projection version 2 left: per-event lines in order_lines, no orders tables
    with sqlite3.connect(view_path) as connection:
        connection.executescript(
            "DROP TABLE orders; DROP TABLE ignored_events;"
            "CREATE TABLE order_lines (line_set INTEGER PRIMARY KEY, event_id BLOB NOT NULL UNIQUE,"
            " customer_id VARCHAR NOT NULL, occurred_at DATETIME NOT NULL, lines VARCHAR NOT NULL);"
        )
    engine = schema.open_engine(view_path, writer=True)
    schema.store_projection_version(engine, 2)
    engine.dispose()

    service = start_service()
    outcome = service.wait_for_rebuild(WAIT_S)

    assert outcome is not None and outcome.completed
    assert outcome.reason == f"projection version changed from 2 to {schema.PROJECTION_VERSION}"
    assert service.catch_up(WAIT_S)
    assert service.read_model.projection_version() == schema.PROJECTION_VERSION
    assert [(r.item, r.line_value_pence) for r in service.items()] == [("Kettle", 4998)]
    assert [(o.order_id, o.total_pence) for o in service.orders()] == [(placed.payload.order_id, 4998)]
