"""DeskRuntime, what the window runs: it supervises the embedded broker and keeps orders when Kafka is away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil

from desktop_app.bootstrap import DeskRuntime, embedded_broker
from desktop_app.command.model import LineInput, PlaceOrder
from desktop_app.settings import Settings


async def wait_for(condition, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.1)


def test_embedded_broker_is_restarted_when_it_dies_and_stopped_with_the_desk(isolated_data_dir: Path):
    settings = Settings(data_dir=isolated_data_dir, partitions=2)
    broker = embedded_broker(settings)

    async def scenario() -> None:
        runtime = DeskRuntime(settings)
        runtime.SUPERVISE_EVERY_S = 0.5
        await runtime.start()
        try:
            await wait_for(lambda: runtime.connection is not None)
            first_pid = broker.pid()
            receipt = await runtime.command.place_order(PlaceOrder("alice", (LineInput("Tea", "3.50", "1"),)))
            await runtime.command.wait_published(receipt.command_id, 30)
            broker.kill()  # as if the JVM crashed
            await wait_for(lambda: broker.pid() not in (None, first_pid))
            second = await runtime.command.place_order(PlaceOrder("bob", (LineInput("Mug", "6.00", "2"),)))
            published = await runtime.command.wait_published(second.command_id, 60)
            assert await asyncio.to_thread(runtime.query.wait_until_visible, published.partition,
                                           published.offset, 30)
            assert {row.customer_id for row in runtime.query.items()} == {"alice", "bob"}
            last_pid = broker.pid()
        finally:
            await runtime.stop()
        assert broker.pid() is None  # this desk started it, so quitting stopped it
        assert not psutil.pid_exists(last_pid) or psutil.Process(last_pid).status() == psutil.STATUS_ZOMBIE

    asyncio.run(scenario())


def test_orders_queue_when_kafka_cannot_be_reached(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "desk", bootstrap_servers="127.0.0.1:1")

    async def scenario() -> tuple[str, int, str | None, str | None]:
        runtime = DeskRuntime(settings)
        await runtime.start()
        try:
            receipt = await runtime.command.place_order(PlaceOrder("alice", (LineInput("Tea", "3.50", "1"),)))
            await wait_for(lambda: runtime.broker_error is not None and runtime.command.last_error is not None)
            return receipt.status, runtime.command.pending_count(), runtime.broker_error, runtime.command.last_error
        finally:
            await runtime.stop()

    status, pending, broker_error, relay_error = asyncio.run(scenario())
    assert status == "accepted" and pending == 1
    assert "connection refused" in relay_error
    assert broker_error
