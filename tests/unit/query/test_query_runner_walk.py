"""runner.ProjectorThread's control flow with a fake consumer (no broker), into a real SQLite file: the walk
consumer -> projector (one transaction) -> tracking -> listeners, a restart carrying on from the stored
offsets, a failure retried with a new consumer, a damaged file stopping it once, and end offsets asked
through its consumer. The real-broker tests (tests/integration/query) cover the same paths with aiokafka."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest
from aiokafka.errors import KafkaError
from fake_kafka_consumer import FakeConsumer, FakeLog
from query_unit_helpers import TOPIC, RecordFactory, order

from desktop_app.query import runner as runner_module
from desktop_app.query.partition_replay import ParallelReplay, ReplayEnd
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import ProjectorThread, ViewChange
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.tracking import offsets_in_file
from desktop_app.query.view_health import damage_report
from desktop_app.query.views import ReadModel

WAIT_S = 20
OPTIONS = ProjectorOptions(poll_timeout_ms=20, fetch_max_wait_ms=5, retry_initial_s=0.01, retry_max_s=0.05)


class FakeBrokerProjector(ProjectorThread):
    """A ProjectorThread whose every (re)start gets the next of `consumers` (the last one again after)."""

    def __init__(self, *args, consumers: list[FakeConsumer], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.consumers = consumers
        self.opened: list[FakeConsumer] = []

    def new_consumer(self) -> FakeConsumer:  # type: ignore[override]
        consumer = self.consumers[min(len(self.opened), len(self.consumers) - 1)]
        self.opened.append(consumer)
        return consumer


def projector_of(db_path, log: FakeLog, *consumers: FakeConsumer, **kwargs) -> FakeBrokerProjector:
    return FakeBrokerProjector(db_path, {}, TOPIC, consumers=list(consumers) or [FakeConsumer(log)],
                               options=kwargs.pop("options", OPTIONS), **kwargs)


def placed(records: RecordFactory, customer: str, partition: int, quantity: int = 1):
    return records.event(order(customer, ("widget", 500, quantity)), partition=partition)


def quantities(db_path) -> dict[str, int]:
    model = ReadModel(db_path)
    try:
        return {row.customer_id: row.quantity for row in model.items()}
    finally:
        model.close()


def test_each_batch_is_committed_then_tracked_then_told(db_path, records) -> None:
    log = FakeLog(TOPIC, partitions=2)
    log.append(placed(records, "anna", 0), placed(records, "ben", 1, 2), placed(records, "anna", 0, 3))
    seen: list[tuple[ViewChange, dict[int, int], dict[int, int]]] = []
    projector: ProjectorThread | None = None

    def on_change(change: ViewChange) -> None:  # in the projector's thread, after the commit
        assert projector is not None
        seen.append((change, offsets_in_file(db_path, TOPIC), projector.offsets.stored()))

    projector = projector_of(db_path, log, on_change=on_change)
    projector.start()
    try:
        assert projector.offsets.wait_for({0: 2, 1: 1}, WAIT_S)
        log.append(placed(records, "cleo", 1))
        assert projector.offsets.wait_for({1: 2}, WAIT_S)
    finally:
        projector.stop()
    assert quantities(db_path) == {"anna": 4, "ben": 2, "cleo": 1}
    assert [change.offsets for change, _, _ in seen][-1] == {0: 2, 1: 2}
    for change, in_file, tracked in seen:  # the listener is told what is already stored and tracked
        assert in_file == tracked == dict(change.offsets)
    assert {key[0] for change, _, _ in seen for key in change.keys} == {"anna", "ben", "cleo"}
    assert sum(change.applied for change, _, _ in seen) == 4
    assert projector.offsets.highwaters() == {0: 2, 1: 2} and projector.last_error is None  # as last fetched
    assert projector.opened[0].started and projector.opened[0].stopped


def test_a_restart_carries_on_from_the_stored_offsets_and_counts_nothing_twice(db_path, records) -> None:
    log = FakeLog(TOPIC, partitions=2)
    log.append(placed(records, "anna", 0), placed(records, "ben", 1))
    first = projector_of(db_path, log)
    first.start()
    assert first.offsets.wait_for({0: 1, 1: 1}, WAIT_S)
    first.stop()
    log.append(placed(records, "anna", 0, 5))
    consumer = FakeConsumer(log)
    second = projector_of(db_path, log, consumer)
    second.start()
    assert second.offsets.stored() == {0: 1, 1: 1}  # known from the file before its first batch
    try:
        assert second.offsets.wait_for({0: 2, 1: 1}, WAIT_S)
    finally:
        second.stop()
    assert consumer.placement_calls()[:3] == [("assign", [0, 1]), ("seek", 0, 1), ("seek", 1, 1)]
    assert quantities(db_path) == {"anna": 6, "ben": 1}


def test_a_failure_is_retried_with_a_new_consumer_and_then_forgotten(db_path, records) -> None:
    log = FakeLog(TOPIC)
    log.append(placed(records, "anna", 0))
    failing = FakeConsumer(log, failures=[KafkaError("the fetch broke")])
    working = FakeConsumer(log)
    projector = projector_of(db_path, log, failing, working)
    projector.start()
    try:
        assert projector.offsets.wait_for({0: 1}, WAIT_S)
    finally:
        projector.stop()
    assert projector.opened == [failing, working] and failing.stopped
    assert projector.error_count == 1 and projector.last_error is None  # it worked again afterwards
    assert quantities(db_path) == {"anna": 1}


def healed_projector(db_path, log: FakeLog, consumer: FakeConsumer, reasons: list[str]) -> FakeBrokerProjector:
    engine = open_engine(db_path, writer=True)
    ensure_schema(engine)  # a watched file is never created by the projector
    engine.dispose()
    return projector_of(db_path, log, consumer, on_damage=reasons.append)


def wait_until_stopped(projector: ProjectorThread) -> None:
    deadline = time.monotonic() + WAIT_S
    while projector.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not projector.running


@pytest.mark.parametrize("damage", ["deleted", "reported"])
def test_a_damaged_file_stops_it_before_the_next_batch_once_and_says_why(db_path, records, damage) -> None:
    log = FakeLog(TOPIC)
    log.append(placed(records, "anna", 0))
    consumer = FakeConsumer(log)
    reasons: list[str] = []
    projector = healed_projector(db_path, log, consumer, reasons)

    def damaged_while_fetching() -> None:  # the fetch that finds the damage brings a record too
        if damage == "deleted":
            os.remove(db_path)
        else:
            damage_report(db_path).write_text("a reader found page 7 damaged", encoding="utf-8")
        log.append(placed(records, "ben", 0))

    projector.start()
    try:
        assert projector.offsets.wait_for({0: 1}, WAIT_S)
        consumer.during_fetch = damaged_while_fetching
        wait_until_stopped(projector)
    finally:
        projector.stop()
    expected = "the file was deleted or replaced" if damage == "deleted" else "a reader found page 7 damaged"
    assert reasons == [expected] and projector.damage == expected
    assert consumer.during_fetch is None  # that fetch happened
    assert projector.offsets.stored() == {0: 1}  # and its record was not applied to the damaged file
    assert len(projector.opened) == 1  # stopped, not retried


def test_a_missing_watched_file_is_damage_not_a_new_view(db_path, records) -> None:
    reasons: list[str] = []
    projector = projector_of(db_path, FakeLog(TOPIC), on_damage=reasons.append)
    projector.start()
    try:
        wait_until_stopped(projector)
    finally:
        projector.stop()
    assert reasons == ["the file is missing"] and not db_path.exists() and projector.opened == []


def test_end_offsets_are_asked_through_its_consumer(db_path, records) -> None:
    log = FakeLog(TOPIC, partitions=2)
    log.append(placed(records, "anna", 1))
    projector = projector_of(db_path, log)
    assert projector.end_offsets() is None  # not running: the caller asks another way
    projector.start()
    try:
        assert projector.offsets.wait_for({1: 1}, WAIT_S)
        log.append(placed(records, "ben", 0))
        assert projector.end_offsets() == {0: 1, 1: 1}
    finally:
        projector.stop()


def test_a_new_view_whose_parallel_fill_fails_is_projected_in_this_process(db_path, records, monkeypatch) -> None:
    log = FakeLog(TOPIC, partitions=2)
    log.append(placed(records, "anna", 0), placed(records, "ben", 1, 2))
    tried: list[dict[int, int]] = []

    def failing_fill(self, target, stops, **_kwargs):
        tried.append(dict(stops))
        raise RuntimeError("partition group 1 failed: its process ended (exit code 1)")

    monkeypatch.setattr(ParallelReplay, "run", failing_fill)
    options = replace(OPTIONS, replay_processes=2, parallel_replay_min_records=0)
    projector = projector_of(db_path, log, options=options)
    projector.start()
    try:
        assert projector.offsets.wait_for({0: 1, 1: 1}, WAIT_S)
    finally:
        projector.stop()
    assert tried == [{0: 1, 1: 1}]  # tried once, for the new view, then never again
    assert quantities(db_path) == {"anna": 1, "ben": 2}
    assert projector.error_count == 0


def test_a_fill_whose_progress_read_fails_is_stopped_before_the_projector_goes_on(db_path, records,
                                                                                  monkeypatch) -> None:
    # the groups write into the live file: no other writer may start on it while they run
    log = FakeLog(TOPIC, partitions=2)
    log.append(placed(records, "anna", 0), placed(records, "ben", 1, 2))
    stopped_by_cancel: list[bool] = []  # per fill: did it see the cancel before it returned

    def slow_fill(self, target, stops, *, cancelled, **_kwargs):
        deadline = time.monotonic() + (5 if not stopped_by_cancel else 0)  # the retry's fill ends at once
        while not cancelled() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped_by_cancel.append(cancelled())
        return ReplayEnd.CANCELLED

    reads = {"n": 0}
    original = ProjectorThread._moved_on

    def failing_once(self, stored):
        reads["n"] += 1
        if reads["n"] == 1:
            raise OSError("disk I/O error while reading the offsets")
        original(self, stored)

    monkeypatch.setattr(ParallelReplay, "run", slow_fill)
    monkeypatch.setattr(ProjectorThread, "_moved_on", failing_once)
    monkeypatch.setattr(runner_module, "FILL_REPORT_S", 0.01)
    projector = projector_of(db_path, log, options=replace(OPTIONS, replay_processes=2, parallel_replay_min_records=0))
    projector.start()
    try:
        assert projector.offsets.wait_for({0: 1, 1: 1}, WAIT_S)
    finally:
        projector.stop()
    assert stopped_by_cancel[0] is True  # stopped before the projector's retry wrote into the file
    assert quantities(db_path) == {"anna": 1, "ben": 2}
