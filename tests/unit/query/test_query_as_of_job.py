"""AsOfJob's control flow over a fake log (no broker): what it reads, progress, cancel, failure, its file.

The replay against the real broker is tests/integration/query/test_query_as_of.py."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import threading
from datetime import datetime, timedelta, timezone

import pytest
from query_unit_helpers import TOPIC, RecordFactory, order

from desktop_app.query import as_of_files
from desktop_app.query.as_of import AsOfCancelled, AsOfJob
from desktop_app.query.log_reader import LogRecord, PartitionBounds
from desktop_app.query.projector import Projector
from desktop_app.query.schema import READ_ONLY_INDEXES, ensure_schema, open_engine
from desktop_app.query.views import ReadModel

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


class FakeLog:
    """A LogReader over records in memory, each with a timestamp; read() hands batches of two."""

    def __init__(self, records: list[tuple[LogRecord, datetime]]) -> None:
        self.records = records
        self.unanswered = False  # offsets_at never answers (a broker that does not reply)
        self.read_ranges: dict[int, tuple[int, int]] | None = None
        self.gate: threading.Event | None = None  # read() waits here after its first batch
        self.first_batch = threading.Event()
        self.fail_after_first: Exception | None = None

    def __call__(self) -> FakeLog:
        return self

    async def __aenter__(self) -> FakeLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _partition(self, partition: int) -> list[tuple[LogRecord, datetime]]:
        return [(r, at) for r, at in self.records if r.partition == partition]

    async def bounds(self) -> dict[int, PartitionBounds]:
        return {p: PartitionBounds(0, len(self._partition(p))) for p in (0, 1, 2)}

    async def offsets_at(self, moment: datetime) -> dict[int, int]:
        if self.unanswered:
            await asyncio.sleep(3600)
        found = {}
        for p in (0, 1, 2):
            stamped = self._partition(p)
            found[p] = next((r.offset for r, at in stamped if at >= moment), len(stamped))
        return found

    async def read(self, ranges, on_batch, cancelled) -> bool:
        self.read_ranges = dict(ranges)
        wanted = [r for r, _ in self.records if ranges[r.partition][0] <= r.offset < ranges[r.partition][1]]
        for start in range(0, len(wanted), 2):
            if cancelled():
                return False
            on_batch(wanted[start:start + 2])
            if start == 0:
                self.first_batch.set()
                if self.fail_after_first is not None:
                    raise self.fail_after_first
                if self.gate is not None:
                    self.gate.wait(10)
        return True


def stamped_log(events: list[tuple[int, object, datetime]]) -> FakeLog:
    factory = RecordFactory()
    records = []
    for partition, event, at in events:
        record = factory.event(event, partition)
        records.append((LogRecord(TOPIC, partition, record.offset, int(at.timestamp() * 1000), record.key,
                                  record.value, tuple(record.headers)), at))
    return FakeLog(records)


@pytest.fixture
def day_log() -> FakeLog:
    """alice at 17:00 (p0), bob at 17:30 (p1), carol at 18:30 (p0), dave at 19:00 (p1)."""
    placed = [(0, "alice", ("Tea", 350, 2), T0 - timedelta(hours=1)),
              (1, "bob", ("Scarf", 500, 1), T0 - timedelta(minutes=30)),
              (0, "carol", ("Lamp", 2500, 1), T0 + timedelta(minutes=30)),
              (1, "dave", ("Pen", 99, 3), T0 + timedelta(hours=1))]
    return stamped_log([(p, order(customer, line, at=at), at) for p, customer, line, at in placed])


def job_of(log: FakeLog, data_dir, moment: datetime = T0, **kwargs) -> AsOfJob:
    return AsOfJob({}, TOPIC, data_dir, moment, reader=log, **kwargs)


def test_the_view_holds_what_each_partition_had_before_the_moment(day_log, tmp_path):
    heard: list[tuple[int, int]] = []
    view = job_of(day_log, tmp_path, on_progress=lambda done, total: heard.append((done, total))).start().follow()
    try:
        assert day_log.read_ranges == {0: (0, 1), 1: (0, 1), 2: (0, 0)}
        assert [(row.customer_id, row.item) for row in view.items()] == [("alice", "Tea"), ("bob", "Scarf")]
        assert view.offsets == {0: 1, 1: 1, 2: 0} and view.records == 2 and view.moment == T0
        assert heard[0] == (0, 2) and heard[-1] == (2, 2)
        assert view.db_path.parent == tmp_path and as_of_files.owner_of(view.db_path.name) == os.getpid()
        indexes = {row[0] for row in sqlite3.connect(view.db_path).execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {index.name for index in READ_ONLY_INDEXES} <= indexes
    finally:
        view.close()
    assert not view.db_path.exists() and list(tmp_path.iterdir()) == []


def test_it_equals_the_projector_applied_to_the_same_records(day_log, tmp_path):
    """The same Projector: replaying records in batches gives the view one live batch of them gives."""
    live_path = tmp_path / "live" / "readmodel.db"
    engine = open_engine(live_path, writer=True)
    ensure_schema(engine)
    Projector(engine, TOPIC).apply([record for record, _ in day_log.records])
    engine.dispose()
    live = ReadModel(live_path)
    view = job_of(day_log, tmp_path, T0 + timedelta(days=1)).start().follow()
    try:
        assert view.items() == live.items() and view.orders() == live.orders()
        assert view.summary(topic=TOPIC) == live.summary(topic=TOPIC)
    finally:
        view.close()
        live.close()


def test_before_the_first_event_the_view_is_empty(day_log, tmp_path):
    view = job_of(day_log, tmp_path, T0 - timedelta(days=1)).start().follow()
    try:
        assert view.items() == [] and view.count_orders() == 0 and view.records == 0
    finally:
        view.close()


def test_a_cancelled_build_leaves_no_file_at_once(day_log, tmp_path):
    day_log.gate = threading.Event()
    job = job_of(day_log, tmp_path).start()
    assert day_log.first_batch.wait(10)
    assert job.path.exists()  # being built
    job.cancel()
    day_log.gate.set()
    assert job.join(10)
    with pytest.raises(AsOfCancelled):
        job.take_view()
    assert job.cancelled and list(tmp_path.iterdir()) == []


def test_a_cancel_stops_a_build_waiting_on_the_broker_at_once(day_log, tmp_path):
    day_log.unanswered = True
    job = job_of(day_log, tmp_path).start()
    time.sleep(0.3)
    job.cancel()
    assert job.join(5)  # not after the broker's timeout
    with pytest.raises(AsOfCancelled):
        job.take_view()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_build_raises_its_error_and_leaves_no_file(day_log, tmp_path):
    day_log.fail_after_first = RuntimeError("broker went away")
    job = job_of(day_log, tmp_path).start()
    with pytest.raises(RuntimeError, match="broker went away"):
        job.follow()
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_wait_cancels_the_build_and_leaves_no_file(day_log, tmp_path):
    """Ctrl-C while the CLI waits: the build stops and its file is deleted before the interrupt goes on."""
    day_log.gate = threading.Event()
    job = job_of(day_log, tmp_path).start()

    def interrupt() -> bool:
        if day_log.first_batch.is_set():
            threading.Timer(0.2, day_log.gate.set).start()
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        job.follow(cancel=interrupt)
    assert job.finished.is_set() and list(tmp_path.iterdir()) == []


def test_a_cancel_predicate_stops_the_build(day_log, tmp_path):
    day_log.gate = threading.Event()
    job = job_of(day_log, tmp_path).start()
    with pytest.raises(AsOfCancelled):
        job.follow(cancel=lambda: day_log.first_batch.is_set() and (day_log.gate.set() or True))
    assert list(tmp_path.iterdir()) == []


def test_a_naive_moment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="timezone-aware"):
        AsOfJob({}, TOPIC, tmp_path, datetime(2026, 11, 27, 18, 0))


def test_starting_a_build_removes_leftovers_of_dead_processes(day_log, tmp_path):
    leftover = tmp_path / "asof-999999999-1.db"  # above any pid_max: no such process
    leftover.write_bytes(b"x")
    view = job_of(day_log, tmp_path).start().follow()
    view.close()
    assert not leftover.exists()
