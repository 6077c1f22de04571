"""Event ids reused with other content on other partitions, on the real broker: the live view, a rebuild
and a fresh replay into a new data dir agree, whichever copy each of them happened to read first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

from desktop_app import contracts

from query_live_helpers import WAIT_S, order, produce, snapshot, wire

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)


def quarantine(service) -> set[tuple[int, int, str]]:
    return {(q.partition, q.offset, q.reason) for q in service.quarantined(10_000)}


def test_reused_ids_across_partitions_live_rebuilt_and_fresh_agree(topic_ready, start_service, tmp_path) -> None:
    # three events on partition 2, counted live; then, on partitions 0 and 1, other orders with their ids
    originals = [
        order("band-a", ("Kettle", 2400, 7), at=T0),
        order("band-a", ("Toaster", 3100, 7), at=T0 + timedelta(minutes=1)),
        order("band-b", ("Lamp", 1999, 3), at=T0 + timedelta(minutes=2)),
    ]
    reused = [
        msgspec.structs.replace(order("band-c", ("Pen", 120, 1), at=T0 - timedelta(days=1)), event_id=e.event_id)
        for e in originals
    ]
    service = start_service()
    first = produce(topic_ready, [wire(e) for e in originals], partition=2)
    first += produce(topic_ready, [wire(originals[0])], partition=2)  # a true re-send: same content, after it
    assert service.catch_up(WAIT_S)
    assert {(r.customer_id, r.item, r.quantity) for r in service.items()} == {
        ("band-a", "Kettle", 7), ("band-a", "Toaster", 7), ("band-b", "Lamp", 3),
    }
    later = produce(topic_ready, [wire(reused[0])], partition=0)
    later += produce(topic_ready, [wire(e) for e in reused[1:]], partition=1)
    assert service.catch_up(WAIT_S)

    live = (snapshot(service), quarantine(service), service.summary().events_applied)
    assert service.rebuild().completed
    assert service.catch_up(WAIT_S)
    rebuilt = (snapshot(service), quarantine(service), service.summary().events_applied)
    fresh_service = start_service(tmp_path / "fresh")
    assert fresh_service.catch_up(WAIT_S)
    fresh = (snapshot(fresh_service), quarantine(fresh_service), fresh_service.summary().events_applied)

    # the lower partitions' copies count; partition 2's are quarantined naming them; the re-send is dropped
    band_c = [r for r in live[0] if r[0] == "band-c"]
    assert band_c == [("band-c", "Pen", 120, "cheap", 3, 3, T0 - timedelta(days=1), T0 - timedelta(days=1))]
    assert [r for r in live[0] if r[0] != "band-c"] == []  # band-a (2 rows, qty 14) and band-b are taken back
    reason = contracts.reused_id_reason
    assert live[1] == {
        *((2, offset, reason(event.event_id, *position)) for (_, offset), event, position in zip(first, originals, later)),
        (2, first[3][1], reason(originals[0].event_id, *later[0])),  # the re-send differs from the copy that counts
    }
    assert live[2] == 3
    assert rebuilt == live
    assert fresh == live
