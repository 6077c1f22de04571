"""The projector thread against the real broker: aggregation, duplicates, quarantine, visibility."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from desktop_app import contracts
from desktop_app.query.bands import Band
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.service import READ_ONLY_WATCH_S, NotProjectingError

from query_live_helpers import WAIT_S, order, produce, produce_events, snapshot, wait_for, wire

T0 = datetime(2025, 6, 1, 9, 30, tzinfo=timezone.utc)


def test_orders_are_aggregated_per_customer_item_and_price(topic_ready, start_service) -> None:
    service = start_service()
    produce_events(topic_ready, [
        order("alice", ("Tea", 350, 2), ("Cake", 499, 1), at=T0),
        order("alice", ("Tea", 350, 3), ("Cake", 500, 1), at=T0 + timedelta(hours=2)),
        order("alice", ("Tea", 351, 1), at=T0),
        order("bob", ("Lamp", 5000, 1), ("Sofa", 5001, 2), at=T0),
    ])

    assert service.catch_up(WAIT_S)

    assert snapshot(service) == [
        ("alice", "Cake", 499, "cheap", 1, 1, T0, T0),
        ("alice", "Cake", 500, "affordable", 1, 1, T0 + timedelta(hours=2), T0 + timedelta(hours=2)),
        ("alice", "Tea", 350, "cheap", 5, 2, T0, T0 + timedelta(hours=2)),
        ("alice", "Tea", 351, "cheap", 1, 1, T0, T0),
        ("bob", "Lamp", 5000, "affordable", 1, 1, T0, T0),
        ("bob", "Sofa", 5001, "expensive", 2, 1, T0, T0),
    ]
    summary = service.summary()
    assert (summary.events_applied, summary.quarantined, summary.lag.total) == (4, 0, 0)
    assert {band: totals.quantity for band, totals in summary.bands.items()} == {
        Band.CHEAP: 7, Band.AFFORDABLE: 2, Band.EXPENSIVE: 2,
    }


def test_duplicate_events_change_nothing(topic_ready, start_service) -> None:
    service = start_service()
    first = order("carol", ("Rug", 7000, 1))
    produce_events(topic_ready, [first, order("carol", ("Rug", 7000, 2))])
    assert service.catch_up(WAIT_S)
    before = (snapshot(service), service.summary().events_applied)

    # the same event re-sent: to its own partition, and to every other one
    produce_events(topic_ready, [first, first])
    for partition in range(topic_ready.partitions):
        produce(topic_ready, [wire(first)], partition=partition)
    assert service.catch_up(WAIT_S)

    assert (snapshot(service), service.summary().events_applied) == before
    assert snapshot(service)[0][4:6] == (3, 2)


def _json_body(event) -> dict:
    return json.loads(contracts.encode(event).value)


def test_malformed_records_are_quarantined_and_the_projector_keeps_going(topic_ready, start_service) -> None:
    service = start_service()
    good = order("dora", ("Vase", 1800, 1))
    body = _json_body(good)
    bad_price = json.loads(json.dumps(body))
    bad_price["payload"]["lines"][0]["unit_price_pence"] = 0
    future_version = dict(body, schema_version=2)
    malformed = [
        (b"k", b"\x80\x81 not utf-8", []),
        (b"k", b"{\"event_id\": ", []),
        (b"k", None, []),
        (b"k", json.dumps(dict(body, event_type="OrderRefunded")).encode(), []),
        (b"k", json.dumps(body).encode(), [("event_type", b"OrderRefunded")]),
        (b"k", json.dumps(future_version).encode(), [("schema_version", b"2")]),
        (b"k", json.dumps(bad_price).encode(), []),
        (b"k", b"\"just a string\"", []),
    ]
    valid = [order(f"cust{n}", ("Thing", 100 * (n + 1), n + 1)) for n in range(len(malformed) + 1)]
    interleaved = [wire(valid[0])]
    for bad, event in zip(malformed, valid[1:]):
        interleaved += [bad, wire(event)]
    sent = produce(topic_ready, interleaved, partition=1)

    last_partition, last_offset = sent[-1]
    assert service.wait_until_visible(last_partition, last_offset, WAIT_S)

    assert [row[0] for row in snapshot(service)] == sorted(e.payload.customer_id for e in valid)
    quarantined = service.quarantined(limit=100)
    assert sorted(q.offset for q in quarantined) == [offset for _, offset in sent[1::2]]
    assert all(q.reason for q in quarantined)
    summary = service.summary()
    assert (summary.events_applied, summary.quarantined, summary.lag.total) == (len(valid), len(malformed), 0)

    later = order("late", ("Tea", 350, 1))
    ((partition, offset),) = produce_events(topic_ready, [later])
    assert service.wait_until_visible(partition, offset, WAIT_S)
    assert service.rows_for_keys([("late", Band.CHEAP)])[0].quantity == 1
    assert service.projector_error is None


def test_new_order_is_visible_and_listeners_get_the_changed_keys(topic_ready, start_service) -> None:
    service = start_service()
    changes = []
    service.add_listener(changes.append)
    assert service.catch_up(WAIT_S)

    ((partition, offset),) = produce_events(topic_ready, [order("eve", ("Clock", 7500, 1), ("Pin", 20, 4))])

    assert service.wait_until_visible(partition, offset, WAIT_S)
    keys = set().union(*(change.keys for change in changes))
    assert keys == {("eve", Band.EXPENSIVE), ("eve", Band.CHEAP)}
    assert changes[-1].offsets[partition] == offset + 1
    assert [r.item for r in service.rows_for_keys(keys)] == ["Pin", "Clock"]
    assert service.lag(fresh=False).total == 0


def test_a_failing_listener_does_not_stop_projection(topic_ready, start_service) -> None:
    service = start_service()

    def broken(change) -> None:
        raise RuntimeError("listener bug")

    service.add_listener(broken)
    for number in range(3):
        ((partition, offset),) = produce_events(topic_ready, [order(f"f{number}", ("Pen", 150, 1))])
        assert service.wait_until_visible(partition, offset, WAIT_S)
    service.remove_listener(broken)
    assert service.customers() == ["f0", "f1", "f2"]


def test_restart_resumes_from_stored_offsets_without_counting_twice(topic_ready, start_service) -> None:
    first = start_service()
    produce_events(topic_ready, [order("gil", ("Tea", 350, 1)) for _ in range(10)])
    assert first.catch_up(WAIT_S)
    first.close()

    produce_events(topic_ready, [order("gil", ("Tea", 350, 1)) for _ in range(5)])
    second = start_service()
    assert second.catch_up(WAIT_S)

    assert snapshot(second)[0][4:6] == (15, 15)
    assert second.summary().events_applied == 15


def test_partitions_added_later_are_projected(topic_ready, start_service) -> None:
    service = start_service(options=ProjectorOptions(metadata_interval_s=0.5))
    assert service.catch_up(WAIT_S)

    async def grow() -> None:
        admin = AIOKafkaAdminClient(**topic_ready.kafka_client_kwargs())
        await admin.start()
        try:
            await admin.create_partitions({topic_ready.topic: NewPartitions(total_count=5)})
        finally:
            await admin.close()

    asyncio.run(grow())
    sent = produce(topic_ready, [wire(order("hana", ("Mat", 900, 1)))], partition=4)

    assert service.wait_until_visible(4, sent[0][1], WAIT_S)
    assert service.customers() == ["hana"]
    assert set(service.stored_offsets()) == {4}


def test_a_second_service_on_the_same_data_dir_reads_the_live_view(topic_ready, start_service) -> None:
    projecting = start_service()
    reading = start_service()
    assert (projecting.is_projecting, reading.is_projecting) == (True, False)

    ((partition, offset),) = produce_events(topic_ready, [order("ian", ("Bowl", 1200, 2))])

    assert reading.wait_until_visible(partition, offset, WAIT_S)
    assert reading.catch_up(WAIT_S)
    assert snapshot(reading) == snapshot(projecting)
    assert reading.summary().lag.total == 0
    with pytest.raises(NotProjectingError):
        reading.rebuild()

    projecting.close()  # the lock is free again: the reader can take over
    assert reading.start() is True
    ((partition, offset),) = produce_events(topic_ready, [order("ian", ("Bowl", 1200, 1))])
    assert reading.wait_until_visible(partition, offset, WAIT_S)
    assert snapshot(reading)[0][4:6] == (3, 2)


def test_two_read_models_on_one_broker_converge(topic_ready, start_service, tmp_path) -> None:
    desk_a = start_service(tmp_path / "desk-a")
    produce_events(topic_ready, [order(f"c{n % 7}", (f"item{n % 5}", 100 + 997 * n, 1 + n % 3)) for n in range(300)])
    desk_b = start_service(tmp_path / "desk-b")
    produce_events(topic_ready, [order(f"c{n % 7}", (f"item{n % 5}", 100 + 997 * n, 1 + n % 3)) for n in range(200)])

    assert desk_a.catch_up(WAIT_S) and desk_b.catch_up(WAIT_S)

    assert snapshot(desk_a) == snapshot(desk_b)
    assert desk_a.summary() == desk_b.summary()
    assert desk_a.summary().events_applied == 500


def test_a_read_only_service_reports_changes_and_takes_over_when_the_projector_stops(
    topic_ready, start_service
) -> None:
    projecting = start_service()
    reading = start_service()
    changes = []
    reading.add_listener(changes.append)

    ((partition, offset),) = produce_events(topic_ready, [order("jan", ("Cup", 450, 1))])
    assert reading.wait_until_visible(partition, offset, WAIT_S)
    assert wait_for(lambda: any(c.reset and c.offsets.get(partition) == offset + 1 for c in changes))

    projecting.close()
    assert wait_for(lambda: reading.is_projecting)
    ((partition, offset),) = produce_events(topic_ready, [order("jan", ("Cup", 450, 2))])
    assert reading.wait_until_visible(partition, offset, WAIT_S)
    assert wait_for(lambda: ("jan", Band.CHEAP) in changes[-1].keys)
    assert snapshot(reading)[0][4:6] == (3, 2)



def test_a_reader_that_takes_over_projects_once_and_frees_the_lock_on_close(topic_ready, start_service) -> None:
    projecting = start_service()
    reading = start_service()
    assert not reading.is_projecting
    projecting.close()
    assert reading.start() is True
    time.sleep(3 * READ_ONLY_WATCH_S)  # the read-only watcher must not take over a second time meanwhile
    ((partition, offset),) = produce_events(topic_ready, [order("ian", ("Bowl", 1200, 1))])
    assert reading.wait_until_visible(partition, offset, WAIT_S)
    reading.close()
    assert start_service().is_projecting  # the lock was held once, so one close frees it
