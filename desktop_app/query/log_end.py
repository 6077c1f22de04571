"""How far the log goes: end offsets asked of the broker with a short-lived consumer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

T = TypeVar("T")


async def topic_end_offsets(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    """Partition -> end offset (the offset the next record will get), for every partition of `topic`.

    Asking for partition 0 first makes the client track the topic's metadata (a fresh client knows no
    topics); it raises KafkaTimeoutError if the topic does not exist.
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.end_offsets([TopicPartition(topic, 0)])
        partitions = consumer.partitions_for_topic(topic) or {0}
    ends = await consumer.end_offsets([TopicPartition(topic, p) for p in sorted(partitions)])
    return {tp.partition: offset for tp, offset in ends.items()}


async def read_end_offsets(client_kwargs: dict[str, Any], topic: str) -> dict[int, int]:
    """The topic's end offsets, asked with a short-lived consumer."""
    consumer = AIOKafkaConsumer(**client_kwargs, group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
        return await topic_end_offsets(consumer, topic)
    finally:
        await consumer.stop()


def plain_event_loop() -> asyncio.AbstractEventLoop:
    """A standard asyncio loop for a worker thread, whatever loop policy the GUI installed.

    qasync.run() installs a policy whose new loops are Qt loops; those only work on the GUI thread.
    """
    return asyncio.DefaultEventLoopPolicy().new_event_loop()


def run_blocking(make_coroutine: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Run a coroutine on a fresh event loop in a helper thread and wait for it.

    Safe to call from any thread, including one that runs an event loop of its own (the GUI's).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        async def bounded() -> T:
            return await asyncio.wait_for(make_coroutine(), timeout)

        try:
            with asyncio.Runner(loop_factory=plain_event_loop) as runner:
                outcome["value"] = runner.run(bounded())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="query-log-end", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def end_offsets_blocking(client_kwargs: dict[str, Any], topic: str, timeout: float = 10.0) -> dict[int, int]:
    return run_blocking(lambda: read_end_offsets(client_kwargs, topic), timeout)
