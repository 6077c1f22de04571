"""log_reader against the real broker: ranges, single records (their exact bytes), bounds, and the offsets
for a moment."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from aiokafka import AIOKafkaProducer

from desktop_app.query.log_reader import LogReader, LogReadError, read_records_blocking
from desktop_app.settings import Settings

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


async def _produce(settings: Settings, records: list[tuple[int, bytes, datetime]]) -> None:
    producer = AIOKafkaProducer(**settings.kafka_client_kwargs())
    await producer.start()
    try:
        for partition, value, at in records:
            await producer.send_and_wait(settings.topic, value, partition=partition, key=b"k",
                                         headers=[("event_type", b"Test")], timestamp_ms=int(at.timestamp() * 1000))
    finally:
        await producer.stop()


@pytest.fixture
def written(topic_ready: Settings) -> Settings:
    # partition 0: five records a minute apart; partition 1: two records, late; partition 2: none
    records = [(0, f"p0-{i}".encode(), T0 + timedelta(minutes=i)) for i in range(5)]
    records += [(1, b"p1-0", T0 + timedelta(minutes=10)), (1, b"p1-1", T0 + timedelta(minutes=11))]
    asyncio.run(_produce(topic_ready, records))
    return topic_ready


def test_reads_a_range_per_partition_in_offset_order_and_stops_at_its_end(written: Settings) -> None:
    async def scenario() -> list[tuple[int, int, bytes | None]]:
        seen: list[tuple[int, int, bytes | None]] = []
        async with LogReader(written.kafka_client_kwargs(), written.topic, max_records=2) as reader:
            bounds = await reader.bounds()
            assert {p: (b.first, b.end) for p, b in bounds.items()} == {0: (0, 5), 1: (0, 2), 2: (0, 0)}
            done = await reader.read({0: (1, 4), 1: (0, 2), 2: (0, 0)},
                                     lambda batch: seen.extend((r.partition, r.offset, r.value) for r in batch))
            assert done
        return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == [(0, 1, b"p0-1"), (0, 2, b"p0-2"), (0, 3, b"p0-3"), (1, 0, b"p1-0"), (1, 1, b"p1-1")]
    assert [offset for partition, offset, _ in seen if partition == 0] == [1, 2, 3]


def test_a_record_comes_back_with_its_bytes_headers_and_time(written: Settings) -> None:
    [record] = read_records_blocking(written.kafka_client_kwargs(), written.topic, [(0, 2)])
    assert (record.partition, record.offset, record.value, record.key) == (0, 2, b"p0-2", b"k")
    assert record.headers == (("event_type", b"Test"),)
    assert record.time == T0 + timedelta(minutes=2)


def test_offsets_at_a_moment_give_the_log_as_it_stood(written: Settings) -> None:
    async def at(moment: datetime) -> dict[int, int]:
        async with LogReader(written.kafka_client_kwargs(), written.topic) as reader:
            return await reader.offsets_at(moment)

    assert asyncio.run(at(T0 + timedelta(minutes=2, seconds=30))) == {0: 3, 1: 0, 2: 0}
    assert asyncio.run(at(T0 - timedelta(days=1))) == {0: 0, 1: 0, 2: 0}
    assert asyncio.run(at(T0 + timedelta(days=1))) == {0: 5, 1: 2, 2: 0}
    with pytest.raises(ValueError):
        asyncio.run(at(datetime(2026, 11, 27, 18, 0)))


def test_a_range_beyond_the_end_is_refused_at_once(written: Settings) -> None:
    async def scenario() -> None:
        async with LogReader(written.kafka_client_kwargs(), written.topic) as reader:
            await reader.records(1, 0, 3)

    with pytest.raises(LogReadError, match="partition 1 ends at offset 2"):
        asyncio.run(scenario())


def test_cancelling_stops_a_read(written: Settings) -> None:
    async def scenario() -> bool:
        async with LogReader(written.kafka_client_kwargs(), written.topic) as reader:
            return await reader.read({0: (0, 5)}, lambda batch: None, cancelled=lambda: True)

    assert asyncio.run(scenario()) is False
