"""consumer.fetch_batch: one getmany when live; while the log holds more than was read (a backlog), more of
them gathered into one transaction, up to ProjectorOptions.max_records. A fake consumer stands in for aiokafka."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from desktop_app.query.consumer import fetch_batch
from desktop_app.query.projector_options import ProjectorOptions


@dataclass(frozen=True)
class FakeRecord:
    partition: int
    offset: int


class FakeConsumer:
    """A log of `length` records per partition; getmany hands out at most `per_fetch` of what is left (across
    partitions, in turn) and max_records, and highwater() is the log's length, as aiokafka's last fetch saw it."""

    def __init__(self, length: int, partitions: int = 1, per_fetch: int = 10_000) -> None:
        self.length = length
        self.per_fetch = per_fetch
        self.positions = {partition: 0 for partition in range(partitions)}
        self.calls: list[tuple[int, int]] = []  # (timeout_ms, max_records)

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[int, list[FakeRecord]]:
        self.calls.append((timeout_ms, max_records))
        budget = min(max_records, self.per_fetch)
        batch: dict[int, list[FakeRecord]] = {}
        for partition, position in self.positions.items():
            taken = min(budget, self.length - position)
            if taken > 0:
                batch[partition] = [FakeRecord(partition, offset) for offset in range(position, position + taken)]
                self.positions[partition] += taken
                budget -= taken
        return batch

    def highwater(self, partition: int) -> int:
        return self.length


OPTIONS = ProjectorOptions(fetch_records=100, max_records=350, poll_timeout_ms=500, fetch_max_wait_ms=20)


def offsets(records: list[FakeRecord]) -> list[tuple[int, int]]:
    return [(record.partition, record.offset) for record in records]


def test_live_what_one_getmany_brings_is_applied_at_once() -> None:
    consumer = FakeConsumer(7)
    assert offsets(asyncio.run(fetch_batch(consumer, OPTIONS))) == [(0, n) for n in range(7)]
    assert consumer.calls == [(500, 100)]


def test_behind_getmany_results_are_gathered_up_to_the_batch_size() -> None:
    consumer = FakeConsumer(1000)
    assert offsets(asyncio.run(fetch_batch(consumer, OPTIONS))) == [(0, n) for n in range(350)]
    assert consumer.calls == [(500, 100), (20, 100), (20, 100), (20, 50)]
    assert offsets(asyncio.run(fetch_batch(consumer, OPTIONS))) == [(0, n) for n in range(350, 700)]


def test_short_getmany_results_are_gathered_too_while_the_log_holds_more() -> None:
    consumer = FakeConsumer(300, per_fetch=60)  # the fetcher had less buffered than a getmany may take
    records = asyncio.run(fetch_batch(consumer, OPTIONS))
    assert offsets(records) == [(0, n) for n in range(300)]  # in order, nothing lost or repeated
    assert len(consumer.calls) == 5  # 60 each; the last one reached the high-water mark
    assert asyncio.run(fetch_batch(consumer, OPTIONS)) == []


def test_every_partition_is_gathered_in_its_order() -> None:
    consumer = FakeConsumer(120, partitions=3, per_fetch=90)
    records = asyncio.run(fetch_batch(consumer, OPTIONS))
    assert len(records) == 350 and len(set(offsets(records))) == 350
    for partition in range(3):
        mine = [record.offset for record in records if record.partition == partition]
        assert mine == list(range(len(mine)))


def test_batches_smaller_than_a_getmany_are_never_gathered() -> None:
    consumer = FakeConsumer(100)
    options = ProjectorOptions(max_records=25)  # as tests that slow a rebuild down ask
    assert len(asyncio.run(fetch_batch(consumer, options))) == 25
    assert consumer.calls == [(options.poll_timeout_ms, 25)]
