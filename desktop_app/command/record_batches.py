"""Hand a relay round's records to the producer as per-partition batches; give each record its outcome.

Why batches: `producer.send()` costs about 25 µs of CPU per record here (a coroutine, a partitioner call and
a future per record), more than the rest of the command path's relay work; filling batches with aiokafka's
public `create_batch()` / `send_batch()` puts the same records on the wire (key, value, headers, a
timestamp taken at append) for about a third of that (`python -m bench.command_profile`).

What does not change:
  * the partition: the one `send()` would choose, the producer's default partitioner (murmur2 of the key
    over the topic's partitions sorted by id), so every event of a customer stays on its partition;
  * the order: within a partition, records are appended in the round's order and the batches handed over
    in that order; the idempotent producer delivers a partition's batches in order, without duplicates;
  * the outcome per record: its (partition, offset), or the error of its batch. A record not handed over
    (the producer refused a batch) has no outcome and stays pending, as do all later records of its
    partition in the round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

_PARTITION_CACHE_MAX = 100_000  # keys remembered per producer session; cleared when full


class OutgoingRecord(msgspec.Struct, frozen=True, gc=False):  # one per record: see outbox.Receipt
    topic: str
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]


class Delivered(msgspec.Struct, frozen=True, gc=False):  # one per record: see outbox.Receipt
    partition: int
    offset: int  # -1: the broker took a retried send as a duplicate and gave no offset


@dataclass
class _Batch:
    topic: str
    partition: int
    builder: Any  # aiokafka's BatchBuilder
    members: list[tuple[int, int]] = field(default_factory=list)  # (record index, offset in the batch)
    future: asyncio.Future[Any] | None = None


@dataclass
class HandedOver:
    """What the producer took: its batch futures (await them), and the error that stopped the hand-over."""

    count: int
    batches: list[_Batch]
    error: Exception | None = None

    @property
    def futures(self) -> list[asyncio.Future[Any]]:
        return [batch.future for batch in self.batches if batch.future is not None]

    def outcomes(self) -> list[Delivered | BaseException | None]:
        """Per record, once the futures are done: Delivered, the batch's error, or None if not handed over."""
        outcomes: list[Delivered | BaseException | None] = [None] * self.count
        for batch in self.batches:
            future = batch.future
            if future is None:
                continue
            error = future.exception()
            if error is not None:
                for index, _ in batch.members:
                    outcomes[index] = error
                continue
            base = future.result().offset
            for index, relative in batch.members:
                outcomes[index] = Delivered(batch.partition, base + relative if base >= 0 else -1)
        return outcomes


class RecordBatcher:
    """Fills and hands over batches for one producer (a new producer session gets a new batcher)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitioner = DefaultPartitioner()
        self._partition_of: dict[tuple[str, tuple[int, ...], bytes], int] = {}

    async def hand_over(self, records: Sequence[OutgoingRecord]) -> HandedOver:
        """Append the records to per-partition batches in order and hand each batch over when full, the
        rest at the end. A refused batch (the producer's error) stops the hand-over: see `HandedOver`."""
        producer = self._producer
        partitions = {topic: tuple(sorted(await producer.partitions_for(topic)))
                      for topic in dict.fromkeys(record.topic for record in records)}
        handed = HandedOver(len(records), [])
        open_batches: dict[tuple[str, int], _Batch] = {}
        try:
            for index, record in enumerate(records):
                partition = self._partition(record.topic, partitions[record.topic], record.key)
                batch = open_batches.get((record.topic, partition))
                if batch is None:
                    batch = open_batches[(record.topic, partition)] = self._new_batch(record.topic, partition)
                appended = batch.builder.append(timestamp=None, key=record.key, value=record.value,
                                                headers=record.headers)
                if appended is None:  # full: hand it over, start the next (a first record always fits)
                    await self._send(batch, handed)
                    batch = open_batches[(record.topic, partition)] = self._new_batch(record.topic, partition)
                    appended = batch.builder.append(timestamp=None, key=record.key, value=record.value,
                                                    headers=record.headers)
                batch.members.append((index, appended.offset))
            for batch in open_batches.values():
                await self._send(batch, handed)
        except Exception as exc:  # what was handed over is awaited by the caller; the rest stays pending
            handed.error = exc
        return handed

    def _new_batch(self, topic: str, partition: int) -> _Batch:
        return _Batch(topic, partition, self._producer.create_batch())

    async def _send(self, batch: _Batch, handed: HandedOver) -> None:
        batch.future = await self._producer.send_batch(batch.builder, batch.topic, partition=batch.partition)
        handed.batches.append(batch)

    def _partition(self, topic: str, partitions: tuple[int, ...], key: bytes) -> int:
        cache_key = (topic, partitions, key)
        partition = self._partition_of.get(cache_key)
        if partition is None:
            if len(self._partition_of) >= _PARTITION_CACHE_MAX:
                self._partition_of.clear()
            partition = self._partition_of[cache_key] = self._partitioner(key, list(partitions), list(partitions))
        return partition
