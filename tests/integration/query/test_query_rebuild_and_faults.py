"""Rebuild (a shadow replay swapped in) and recovery from transient database and broker failures."""

from __future__ import annotations

import sqlite3
import time

from desktop_app.query.projector_options import ProjectorOptions

from query_live_helpers import WAIT_S, order, produce, produce_events, snapshot, wait_for, wire


def fill(settings, count: int) -> None:
    produce(settings, [
        wire(order(f"c{n % 9}", (f"item{n % 4}", 250 * (n % 30) + 1, 1 + n % 5))) for n in range(count)
    ] + [(b"k", b"garbage", [])] * 3)


def test_rebuild_replays_to_the_same_view_with_progress(topic_ready, start_service) -> None:
    service = start_service(options=ProjectorOptions(max_records=100))
    fill(topic_ready, 2000)
    assert service.catch_up(WAIT_S)
    before, summary_before = snapshot(service), service.summary()
    changes, progress = [], []
    service.add_listener(changes.append)

    outcome = service.rebuild(progress=lambda done, total: progress.append((done, total)), timeout=WAIT_S)

    assert outcome.completed and outcome.done == outcome.total == outcome.events == 2003
    assert (outcome.rows, outcome.quarantined) == (len(before), 3)
    assert progress[0] == (0, 2003) and progress[-1] == (2003, 2003)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert changes[0].reset and not changes[0].keys  # the swap: listeners reload everything once
    assert changes[0].offsets == service.stored_offsets()
    assert service.view_path.name == "readmodel-1.db"
    assert snapshot(service) == before
    assert service.summary() == summary_before

    ((partition, offset),) = produce_events(topic_ready, [order("after", ("Tea", 350, 1))])
    assert service.wait_until_visible(partition, offset, WAIT_S)


def test_a_rebuild_cancelled_at_once_changes_nothing(topic_ready, start_service) -> None:
    service = start_service(options=ProjectorOptions(max_records=50))
    fill(topic_ready, 3000)
    assert service.catch_up(WAIT_S)
    before, files_before = snapshot(service), sorted(p.name for p in topic_ready.data_dir.iterdir())

    outcome = service.rebuild(cancel=lambda: True)

    assert outcome.cancelled and not outcome.completed and outcome.done < outcome.total
    assert sorted(p.name for p in topic_ready.data_dir.iterdir()) == files_before
    assert snapshot(service) == before
    ((partition, offset),) = produce_events(topic_ready, [order("after", ("Tea", 350, 1))])
    assert service.wait_until_visible(partition, offset, WAIT_S)


def test_a_locked_database_is_retried_until_it_frees(topic_ready, start_service) -> None:
    service = start_service(options=ProjectorOptions(busy_timeout_ms=50, retry_initial_s=0.05, retry_max_s=0.2))
    assert service.catch_up(WAIT_S)
    blocker = sqlite3.connect(service.db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        ((partition, offset),) = produce_events(topic_ready, [order("jo", ("Tin", 300, 1))])
        assert wait_for(lambda: service._runner.error_count >= 3)
        assert "locked" in (service.projector_error or "")
        assert not service.wait_until_visible(partition, offset, 0.2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert service.wait_until_visible(partition, offset, WAIT_S)
    assert [(r.customer_id, r.quantity) for r in service.items()] == [("jo", 1)]
    assert wait_for(lambda: service.projector_error is None)


def test_projector_survives_a_broker_restart(topic_ready, running_broker, start_service) -> None:
    service = start_service(options=ProjectorOptions(retry_max_s=1.0))
    produce_events(topic_ready, [order("kim", ("Jar", 700, 1))])
    assert service.catch_up(WAIT_S)

    running_broker.stop()
    time.sleep(1.0)  # the projector polls a dead broker for a while
    running_broker.start()

    ((partition, offset),) = produce_events(topic_ready, [order("kim", ("Jar", 700, 2))])
    assert service.wait_until_visible(partition, offset, 60)
    assert [(r.customer_id, r.quantity, r.orders) for r in service.items()] == [("kim", 3, 2)]
    assert service._runner.running
