"""consumer.TopicFeed, the fetch loop, against a fake consumer (no broker): every partition assigned and sought
to its stored next offset or the beginning, partitions added later picked up, one getmany when live and
several gathered while behind, and the high-water marks the fetches saw."""

from __future__ import annotations

import asyncio

from fake_kafka_consumer import FakeConsumer, FakeLog
from query_unit_helpers import TOPIC, RecordFactory

from desktop_app.query.consumer import Fetched, TopicFeed
from desktop_app.query.projector_options import ProjectorOptions

OPTIONS = ProjectorOptions(fetch_records=100, max_records=350, poll_timeout_ms=500, fetch_max_wait_ms=20)


def filled_log(records: RecordFactory, lengths: dict[int, int]) -> FakeLog:
    log = FakeLog(TOPIC, partitions=len(lengths))
    for partition, length in lengths.items():
        log.append(*[records.raw(b"{}", partition=partition) for _ in range(length)])
    return log


def positions(fetched: Fetched) -> list[tuple[int, int]]:
    return [(record.partition, record.offset) for record in fetched.records]


class Stored:
    """The view's stored next offsets as the feed reads them, counting the reads."""

    def __init__(self, offsets: dict[int, int]) -> None:
        self.offsets = offsets
        self.reads = 0

    def __call__(self) -> dict[int, int]:
        self.reads += 1
        return dict(self.offsets)


def test_every_partition_is_sought_to_its_stored_next_offset_or_to_the_beginning(records) -> None:
    log = filled_log(records, {0: 5, 1: 4, 2: 5})
    consumer = FakeConsumer(log)
    feed = TopicFeed(consumer, TOPIC, OPTIONS, Stored({0: 3, 2: 5}))

    async def run() -> tuple[dict[int, int], Fetched]:
        return await feed.log_end(), await feed.next_batch()

    ends, fetched = asyncio.run(run())
    assert ends == {0: 5, 1: 4, 2: 5}
    assert consumer.placement_calls() == [("assign", [0, 1, 2]), ("seek", 0, 3), ("seek", 2, 5),
                                          ("seek_to_beginning", [1])]
    assert feed.assigned == {0, 1, 2}
    assert sorted(positions(fetched)) == [(0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert fetched.highwaters == {0: 5, 1: 4, 2: 5}


def test_partitions_are_assigned_once_and_again_when_the_topic_gains_one(records) -> None:
    log = filled_log(records, {0: 2})
    consumer = FakeConsumer(log)
    stored = Stored({})
    feed = TopicFeed(consumer, TOPIC, OPTIONS, stored)

    async def run() -> list[Fetched]:
        first = await feed.next_batch()
        second = await feed.next_batch()  # nothing new: no new assignment either
        stored.offsets = {0: 2}  # what the view stored of the first batch
        added = log.add_partition()
        log.append(records.raw(b"{}", partition=added), records.raw(b"{}", partition=0))
        third = await feed.next_batch()
        return [first, second, third]

    first, second, third = asyncio.run(run())
    assert positions(first) == [(0, 0), (0, 1)] and second.records == []
    assert sorted(positions(third)) == [(0, 2), (1, 0)]  # partition 0 carries on where the view stood
    assert consumer.placement_calls() == [("assign", [0]), ("seek_to_beginning", [0]),
                                          ("assign", [0, 1]), ("seek", 0, 2), ("seek_to_beginning", [1])]
    assert stored.reads == 2  # read again for the new assignment, not at every fetch
    assert third.highwaters == {0: 3, 1: 1}


def test_live_one_getmany_is_the_batch(records) -> None:
    consumer = FakeConsumer(filled_log(records, {0: 7}))
    fetched = asyncio.run(TopicFeed(consumer, TOPIC, OPTIONS, Stored({})).next_batch())
    assert positions(fetched) == [(0, n) for n in range(7)]
    assert consumer.getmany_calls() == [(500, 100)]


def test_behind_getmany_results_are_gathered_into_one_batch_with_the_latest_high_water_marks(records) -> None:
    log = filled_log(records, {0: 1000})
    consumer = FakeConsumer(log)
    feed = TopicFeed(consumer, TOPIC, OPTIONS, Stored({}))

    async def run() -> list[Fetched]:
        first = await feed.next_batch()
        log.append(*[records.raw(b"{}") for _ in range(5)])  # the log grew meanwhile
        return [first, await feed.next_batch()]

    first, second = asyncio.run(run())
    assert positions(first) == [(0, n) for n in range(350)]
    assert consumer.getmany_calls()[:4] == [(500, 100), (20, 100), (20, 100), (20, 50)]
    assert first.highwaters == {0: 1000}
    assert positions(second) == [(0, n) for n in range(350, 700)] and second.highwaters == {0: 1005}

