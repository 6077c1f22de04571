"""The real broker: round trip with the idempotent producer, retention, restart durability."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from desktop_app.broker.topics import describe_topic


async def produce(settings, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**settings.kafka_client_kwargs(), enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(settings.topic, value, key=b"k") for value in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(settings) -> list[bytes]:
    consumer = AIOKafkaConsumer(**settings.kafka_client_kwargs(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        info = await describe_topic(settings.kafka_client_kwargs(), settings.topic)
        partitions = [TopicPartition(settings.topic, p) for p in range(info.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                values.extend(record.value for record in records)
        return values
    finally:
        await consumer.stop()


def test_idempotent_producer_round_trip(topic_ready):
    values = [f"event-{i}".encode() for i in range(50)]
    asyncio.run(produce(topic_ready, values))
    assert asyncio.run(read_all(topic_ready)) == values  # one key -> one partition -> log order


def test_topic_is_kept_forever(topic_ready):
    info = asyncio.run(describe_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic))
    assert info is not None
    assert (info.partitions, info.retention_ms, info.retention_bytes) == (3, -1, -1)
    assert info.retention_warning() is None


def test_events_survive_a_broker_restart(topic_ready, kafka_broker):
    values = [f"before-restart-{i}".encode() for i in range(20)]
    asyncio.run(produce(topic_ready, values))
    kafka_broker.stop()
    assert not kafka_broker.is_running()
    kafka_broker.start()
    assert asyncio.run(read_all(topic_ready)) == values
