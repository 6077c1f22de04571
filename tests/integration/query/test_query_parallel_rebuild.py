"""A rebuild that replays partition groups in parallel processes (partition_replay), on the real broker:
it ends equal to the live view and to a fresh one-process replay, including cancellations, re-sends,
amendments and a malformed record; an event id counted by two groups makes it replay in one process; a
cancel leaves no file behind. A new view of a big log, and a view as of a moment, are built the same way."""

from __future__ import annotations

import logging
from dataclasses import replace
import random
from datetime import datetime, timedelta, timezone

import msgspec

from desktop_app.query.as_of import AsOfJob
from desktop_app.query.partition_replay import ParallelReplay, plan_groups
from desktop_app.query.projector_options import ProjectorOptions
from support.log_audit import end_offsets, replay_fresh_state, view_state
from support.order_stream import amendment_events, cancel_event
from support.stamped_events import produce_stamped

from query_live_helpers import WAIT_S, order, produce, produce_events, wire

T0 = datetime(2025, 7, 1, 9, 0, tzinfo=timezone.utc)
PARALLEL = ProjectorOptions(replay_processes=2, parallel_replay_min_records=0)


def a_day(rng: random.Random, count: int) -> list:
    events, placed, cancelled = [], [], []
    for n in range(count):
        event = order(f"cust-{rng.randrange(40)}", (f"item-{rng.randrange(15)}", rng.choice([99, 500, 5000, 5001]),
                                                    rng.randrange(1, 4)), at=T0 + timedelta(seconds=n))
        events.append(event)
        placed.append(event)
        if n % 9 == 4:
            cancelled.append(placed.pop(rng.randrange(len(placed))))
            events.append(cancel_event(cancelled[-1], at=T0 + timedelta(seconds=n)))
        if n % 17 == 16:  # cancelled twice: the second is ignored
            events.append(cancel_event(rng.choice(cancelled), at=T0 + timedelta(seconds=n)))
        if n % 13 == 7 and placed:
            events.extend(amendment_events(placed.pop(rng.randrange(len(placed))), ("Lamp", 2500, 1),
                                           at=T0 + timedelta(seconds=n)))
    return events


def rebuild_then_replay_fresh(service, settings, folder, caplog):
    """Rebuild (completed, caught up again); its outcome, what it logged, and a fresh one-process replay."""
    with caplog.at_level(logging.INFO, logger="desktop_app.query"):
        outcome = service.rebuild(timeout=120)
    assert outcome.completed
    assert service.catch_up(WAIT_S)
    return outcome, caplog.text, replay_fresh_state(settings.kafka_client_kwargs(), settings.topic, folder / "fresh")


def test_a_parallel_rebuild_equals_the_live_view_and_a_fresh_replay(topic_ready, start_service, tmp_path,
                                                                    caplog) -> None:
    events = a_day(random.Random(5), 600)
    produce_events(topic_ready, events)
    produce_events(topic_ready, events[10:20])  # re-sends, on their partitions
    produce(topic_ready, [(b"cust-1", b"{not an event", [])])
    service = start_service(options=PARALLEL)
    assert service.catch_up(WAIT_S)
    live = view_state(service)

    outcome, said, fresh = rebuild_then_replay_fresh(service, topic_ready, tmp_path, caplog)
    assert "in 2 processes" in said  # the parallel replay did the work, not the fallback
    rebuilt = view_state(service)

    assert rebuilt == live == fresh
    assert outcome.quarantined == 1
    assert {o.status for o in rebuilt.orders.values()} == {"placed", "cancelled", "replaced"}
    assert len({row.customer_id for row in rebuilt.ignored}) > 5  # on partitions of both groups
    assert outcome.events == sum(end_offsets(topic_ready.kafka_client_kwargs(), topic_ready.topic).values())
    assert [p.name for p in topic_ready.data_dir.iterdir() if ".part" in p.name] == []


def test_an_event_id_counted_in_two_groups_replays_in_one_process(topic_ready, start_service, tmp_path,
                                                                   caplog) -> None:
    events = a_day(random.Random(6), 200)
    sent = produce_events(topic_ready, events)
    ends = end_offsets(topic_ready.kafka_client_kwargs(), topic_ready.topic)
    first, second = plan_groups(ends, 2)
    where = dict(zip((e.event_id for e in events), (p for p, _ in sent)))
    original = next(e for e in events if where[e.event_id] == first[0] and e.event_type == "OrderPlaced")
    reused = msgspec.structs.replace(order("cust-reused", ("Pen", 120, 1), at=T0), event_id=original.event_id)
    produce(topic_ready, [wire(reused)], partition=second[0])  # the same id with other content, other group
    service = start_service(options=PARALLEL)
    assert service.catch_up(WAIT_S)
    live = view_state(service)

    _, said, fresh = rebuild_then_replay_fresh(service, topic_ready, tmp_path, caplog)
    assert "replaying in one process instead" in said

    assert view_state(service) == live == fresh
    copy_on = min(first[0], second[0])  # the lower partition's copy counts
    counted = [r for r in live.rows if r.customer_id == "cust-reused"]
    assert bool(counted) == (copy_on == second[0])


def test_a_cancel_while_the_groups_replay_leaves_the_view_and_no_files(topic_ready, start_service) -> None:
    produce_events(topic_ready, [order(f"c{n % 50}", ("Mug", 800, 1), at=T0 + timedelta(seconds=n))
                                 for n in range(20_000)])
    service = start_service(options=PARALLEL)
    assert service.catch_up(WAIT_S * 4)
    before = view_state(service)
    names_before = sorted(p.name for p in topic_ready.data_dir.iterdir())

    def groups_started() -> bool:
        return any(".part1" in p.name for p in topic_ready.data_dir.iterdir())

    outcome = service.rebuild(cancel=groups_started, timeout=120)

    assert outcome.cancelled and not outcome.completed
    assert 0 <= outcome.done < outcome.total
    assert sorted(p.name for p in topic_ready.data_dir.iterdir()) == names_before
    assert view_state(service) == before


def test_a_new_view_of_a_big_log_is_filled_in_parallel_then_followed(topic_ready, start_service, tmp_path,
                                                                   caplog) -> None:
    produce_events(topic_ready, a_day(random.Random(8), 500))
    with caplog.at_level(logging.INFO, logger="desktop_app.query"):
        service = start_service(options=PARALLEL)  # a new desk: its view is empty, the log is not
        assert service.catch_up(WAIT_S)
    assert "in 2 processes" in caplog.text
    produce_events(topic_ready, a_day(random.Random(9), 50))  # then followed live, as ever
    assert service.catch_up(WAIT_S)

    fresh = replay_fresh_state(topic_ready.kafka_client_kwargs(), topic_ready.topic, tmp_path / "fresh")
    assert view_state(service) == fresh
    assert service.view_path.name == "readmodel.db"
    assert [p.name for p in topic_ready.data_dir.iterdir() if ".part" in p.name] == []


def test_a_view_as_of_a_moment_built_in_parallel_equals_one_built_in_one_process(topic_ready, start_service,
                                                                                 caplog) -> None:
    events = a_day(random.Random(10), 300)
    moment = T0 + timedelta(hours=1)
    produce_stamped(topic_ready, [(event, moment + timedelta(minutes=(-1 if n < 250 else 1)))
                                  for n, event in enumerate(events)])
    service = start_service()
    assert service.catch_up(WAIT_S)
    client_kwargs, topic, folder = topic_ready.kafka_client_kwargs(), topic_ready.topic, topic_ready.data_dir

    one_process = AsOfJob(client_kwargs, topic, folder, moment).start().follow(timeout=WAIT_S)
    with caplog.at_level(logging.INFO, logger="desktop_app.query"):
        parallel = AsOfJob(client_kwargs, topic, folder, moment,
                           parallel=ParallelReplay(client_kwargs, topic, processes=2, min_records=0)
                           ).start().follow(timeout=WAIT_S * 4)
    try:
        assert "in 2 processes" in caplog.text
        assert parallel.offsets == one_process.offsets and parallel.records == one_process.records
        assert view_state(parallel) == view_state(one_process) != view_state(service)
        assert 0 < len(view_state(parallel).orders) < len(view_state(service).orders)
    finally:
        parallel.close()
        one_process.close()
    assert list(folder.glob("asof-*")) == []


def test_the_desk_s_projector_child_fills_a_new_view_in_parallel(topic_ready, start_service, tmp_path,
                                                                 caplog) -> None:
    # as the app runs it: the live projector in a child process, which starts the groups' processes
    produce_events(topic_ready, a_day(random.Random(11), 300))
    with caplog.at_level(logging.INFO, logger="desktop_app"):  # the child logs at its parent's level
        service = start_service(options=replace(PARALLEL, isolation="process"))
        assert service.catch_up(WAIT_S)
    assert "in 2 processes" in caplog.text

    fresh = replay_fresh_state(topic_ready.kafka_client_kwargs(), topic_ready.topic, tmp_path / "fresh")
    assert view_state(service) == fresh
