"""contracts: event and command ids are UUIDs version 7, ordered by the time they were made, order ids stay
random (clerks tell orders apart by their first 8 characters); events are not tracked by the garbage collector."""

from __future__ import annotations

import time
import uuid

from desktop_app import contracts
from desktop_app.command.model import new_command_id


def test_new_ids_are_version_7_uuids_with_the_rfc_variant_and_never_repeat() -> None:
    ids = [contracts.new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7} and {i.variant for i in ids} == {uuid.RFC_4122}


def test_ids_made_later_sort_after_and_carry_the_millisecond_they_were_made() -> None:
    before_ms = time.time_ns() // 1_000_000
    first = contracts.new_id()
    time.sleep(0.003)
    second = contracts.new_id()
    after_ms = time.time_ns() // 1_000_000
    assert first < second and str(first) < str(second)  # as UUIDs and as the text the outbox indexes
    assert before_ms <= first.int >> 80 < second.int >> 80 <= after_ms


def test_event_and_command_ids_are_time_ordered_and_order_ids_random() -> None:
    line = contracts.OrderLine(item="Tea", unit_price_pence=350, quantity=1)
    placed = contracts.new_order_placed(customer_id="alice", command_id="c1", lines=[line], source="t")
    cancelled = contracts.new_order_cancelled(order_id=placed.payload.order_id, customer_id="alice",
                                              command_id="c2", reason="", source="t")
    assert placed.event_id.version == cancelled.event_id.version == 7
    assert uuid.UUID(new_command_id()).version == 7
    orders = [contracts.new_order_placed(customer_id="alice", command_id=f"c{n}", lines=[line], source="t")
              for n in range(50)]
    assert {o.payload.order_id.version for o in orders} == {4}
    assert len({str(o.payload.order_id)[:8] for o in orders}) == 50  # made in the same instant, told apart


def test_events_built_or_decoded_are_not_tracked_by_the_garbage_collector() -> None:
    import gc

    line = contracts.OrderLine(item="Tea", unit_price_pence=350, quantity=1)
    placed = contracts.new_order_placed(customer_id="alice", command_id="c1", lines=[line], source="t")
    cancelled = contracts.new_order_cancelled(order_id=placed.payload.order_id, customer_id="alice",
                                              command_id="c2", reason="", source="t")
    record = contracts.encode(placed)
    decoded = contracts.decode(record.value, record.headers)
    for struct in (line, placed, placed.payload, cancelled, cancelled.payload, decoded, decoded.payload.lines[0]):
        assert not gc.is_tracked(struct), type(struct).__name__
