"""Cancelling a topic probe or provisioning at any moment leaves no Kafka connection open.

aiokafka 0.14's admin client leaks its bootstrap connection when `start()` is cancelled during the first
metadata request ("Unclosed AIOKafkaConnection" at exit of `amend --wait`, whose publish can finish first
and cancel the topic check). Real broker: the cancellation is swept over the first tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

from desktop_app.broker.topics import describe_topic, ensure_topic
from desktop_app.settings import Settings

DELAYS_MS = range(0, 40)


async def cancel_after(make, delay_ms: int) -> None:
    task = asyncio.create_task(make())
    await asyncio.sleep(delay_ms / 1000)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_cancelled_topic_checks_leave_no_connection_open(topic_ready: Settings) -> None:
    kwargs = topic_ready.kafka_client_kwargs()

    async def sweep() -> None:
        for delay in DELAYS_MS:
            await cancel_after(lambda: ensure_topic(kwargs, topic_ready.topic, 3), delay)
            await cancel_after(lambda: describe_topic(kwargs, topic_ready.topic), delay)
            gc.collect()  # a leaked connection says so when it is collected (ResourceWarning)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(sweep())
        gc.collect()
    assert [str(w.message) for w in caught if "Unclosed AIOKafkaConnection" in str(w.message)] == []
