"""record_batches: a relay round handed to the producer as per-partition batches (a fake producer: control
flow only; tests/integration/command/test_command_relay_batches_broker.py runs it against the real broker)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.partitioner import murmur2

from desktop_app.command.record_batches import Delivered, OutgoingRecord, RecordBatcher

HEADERS = (("event_type", b"OrderPlaced"),)


@dataclass
class FakeBuilder:
    capacity: int
    records: list[tuple[bytes, bytes]] = field(default_factory=list)

    def append(self, *, timestamp: Any, key: bytes, value: bytes, headers: Any) -> Any:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return type("Metadata", (), {"offset": len(self.records) - 1})()


class FakeProducer:
    """Hands out builders of `capacity` records; send_batch resolves at once with the partition's next offset
    (or -1 for every batch when `duplicates`), and raises on the `refuse_at`-th batch."""

    def __init__(self, partitions: int = 3, capacity: int = 2, refuse_at: int | None = None,
                 duplicates: bool = False) -> None:
        self.partitions, self.capacity, self.refuse_at, self.duplicates = partitions, capacity, refuse_at, duplicates
        self.sent: list[tuple[int, list[tuple[bytes, bytes]]]] = []
        self.ends = [0] * partitions

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder(self.capacity)

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        if self.refuse_at is not None and len(self.sent) == self.refuse_at:
            raise RuntimeError("the producer refused the batch")
        self.sent.append((partition, list(builder.records)))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        base = -1 if self.duplicates else self.ends[partition]
        self.ends[partition] += len(builder.records)
        future.set_result(type("RecordMetadata", (), {"offset": base})())
        return future


def kafka_partition(key: bytes, partitions: int) -> int:
    """The Kafka clients' rule for a keyed record (murmur2, positive, modulo the partition count)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def records(count: int, customers: int = 5) -> list[OutgoingRecord]:
    return [OutgoingRecord("orders", f"customer-{n % customers}".encode(), f"event-{n}".encode(), HEADERS)
            for n in range(count)]


def hand_over(producer: FakeProducer, outgoing: list[OutgoingRecord]):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        handed = await RecordBatcher(producer).hand_over(outgoing)  # type: ignore[arg-type]
        await asyncio.gather(*handed.futures, return_exceptions=True)
        return handed
    return asyncio.run(run())


def test_each_record_goes_to_its_keys_partition_in_order_with_its_own_offset() -> None:
    producer = FakeProducer(partitions=3, capacity=2)
    outgoing = records(20)
    handed = hand_over(producer, outgoing)
    assert handed.error is None
    outcomes = handed.outcomes()
    for record, outcome in zip(outgoing, outcomes, strict=True):
        assert isinstance(outcome, Delivered)
        assert outcome.partition == kafka_partition(record.key, 3)
    for partition in range(3):  # the partition's log, in the order handed over, is the round's order
        log = [value for sent_to, batch in producer.sent if sent_to == partition for _, value in batch]
        assert log == [r.value for r in outgoing if kafka_partition(r.key, 3) == partition]
        offsets = [o.offset for r, o in zip(outgoing, outcomes) if o.partition == partition]  # type: ignore[union-attr]
        assert offsets == list(range(len(log)))
    assert max(len(batch) for _, batch in producer.sent) == 2  # full batches were handed over as they filled


def test_a_refused_batch_leaves_it_and_the_rest_of_its_partition_without_an_outcome() -> None:
    producer = FakeProducer(partitions=2, capacity=2, refuse_at=1)
    outgoing = records(12, customers=4)
    handed = hand_over(producer, outgoing)
    assert isinstance(handed.error, RuntimeError)
    outcomes = handed.outcomes()
    delivered = [r.value for r, o in zip(outgoing, outcomes) if isinstance(o, Delivered)]
    assert delivered == [value for _, batch in producer.sent for _, value in batch]  # exactly what was taken
    for partition in range(2):  # per partition: a delivered prefix, then nothing (no gap, no overtaking)
        mine = [o for r, o in zip(outgoing, outcomes) if kafka_partition(r.key, 2) == partition]
        first_missing = next((n for n, o in enumerate(mine) if o is None), len(mine))
        assert all(o is None for o in mine[first_missing:])
    assert any(o is None for o in outcomes)


def test_an_answer_without_offsets_gives_every_record_of_the_batch_no_offset() -> None:
    handed = hand_over(FakeProducer(partitions=1, capacity=10, duplicates=True), records(3))
    assert [o.offset for o in handed.outcomes()] == [-1, -1, -1]  # type: ignore[union-attr]


def test_a_failed_batch_gives_its_error_to_each_of_its_records() -> None:
    class FailingProducer(FakeProducer):
        async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> asyncio.Future[Any]:
            future = await super().send_batch(builder, topic, partition=partition)
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(TimeoutError("no leader"))
            return failed if partition == 0 else future

    outgoing = records(6, customers=6)
    outcomes = hand_over(FailingProducer(partitions=2, capacity=10), outgoing).outcomes()
    for record, outcome in zip(outgoing, outcomes, strict=True):
        if kafka_partition(record.key, 2) == 0:
            assert isinstance(outcome, TimeoutError)
        else:
            assert isinstance(outcome, Delivered)
