"""Events written with their own Kafka record timestamps, as if a desk had published each at that moment."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from desktop_app import contracts


async def send_stamped(settings: Any, events: list[tuple[contracts.Event, datetime]]) -> None:
    producer = AIOKafkaProducer(**settings.kafka_client_kwargs(), enable_idempotence=True)
    await producer.start()
    try:
        for event, at in events:
            record = contracts.encode(event)
            await producer.send_and_wait(settings.topic, record.value, key=record.key, headers=list(record.headers),
                                         timestamp_ms=int(at.timestamp() * 1000))
    finally:
        await producer.stop()


def produce_stamped(settings: Any, events: list[tuple[contracts.Event, datetime]]) -> None:
    """Send them from a thread of its own (its own event loop: a GUI test's loop may be running here)."""
    thread = threading.Thread(target=lambda: asyncio.run(send_stamped(settings, events)))
    thread.start()
    thread.join(60)
