"""Test helpers for the command side against the real broker: read a whole topic, produce records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from desktop_app import contracts
from desktop_app.broker.topics import describe_topic

WAIT_S = 60.0  # bound of every wait (never reached when things work)


@dataclass(frozen=True)
class LoggedEvent:
    partition: int
    offset: int
    key: bytes
    headers: tuple[tuple[str, bytes], ...]
    event: contracts.EventEnvelope


async def read_topic(client_kwargs: dict[str, Any], topic: str) -> list[LoggedEvent]:
    """Every record of the topic, decoded, in (partition, offset) order. Fails on a malformed record."""
    consumer = AIOKafkaConsumer(**client_kwargs, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        info = await describe_topic(client_kwargs, topic)
        assert info is not None, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in range(info.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        logged: list[LoggedEvent] = []
        async with asyncio.timeout(WAIT_S):
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        headers = tuple((k, bytes(v)) for k, v in r.headers)
                        logged.append(LoggedEvent(r.partition, r.offset, r.key, headers,
                                                  contracts.decode(r.value, r.headers)))
        return sorted(logged, key=lambda e: (e.partition, e.offset))
    finally:
        await consumer.stop()


async def produce_events(client_kwargs: dict[str, Any], topic: str,
                         events: Iterable[contracts.EventEnvelope]) -> list[tuple[int, int]]:
    """Send events as the relay would (idempotent producer, gathered futures); (partition, offset) each."""
    producer = AIOKafkaProducer(**client_kwargs, enable_idempotence=True)
    await producer.start()
    try:
        futures = []
        for event in events:
            record = contracts.encode(event)
            futures.append(await producer.send(topic, record.value, key=record.key, headers=list(record.headers)))
        return [(m.partition, m.offset) for m in await asyncio.gather(*futures)]
    finally:
        await producer.stop()


def command_ids_per_customer(logged: list[LoggedEvent]) -> dict[str, list[str]]:
    """Each customer's command ids in log order (one customer lives in one partition)."""
    per_customer: dict[str, list[str]] = {}
    for entry in logged:
        per_customer.setdefault(entry.event.payload.customer_id, []).append(entry.event.payload.command_id)
    return per_customer
