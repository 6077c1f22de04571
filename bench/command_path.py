"""3. Command throughput: valid orders through the whole command path, until the broker acknowledged all.

validate → outbox (SQLite, synchronous=FULL) → relay → idempotent producer ack, timed from the first
command handed to the service until the last receipt is "published". Two ways in:
  * bulk: `place_orders` in chunks (one outbox transaction per chunk), as an import would;
  * one at a time: `place_order` awaited per order, as the order form does (each waits for its own sync
    to disk).
Baseline, in the same repetition: a raw aiokafka producer with the relay's settings (idempotent, defaults
otherwise) sending the same orders' event bytes, send() futures gathered.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer

from bench.context import BenchContext
from bench.events import HEADERS, OrderGenerator, encode_order
from bench.report import BenchResult, Target
from desktop_app.command.model import PlaceOrder
from desktop_app.command.service import CommandService

TARGET_RATIO = 0.5
TIMEOUT_S = 600.0


async def raw_seconds(ctx: BenchContext, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(**ctx.cluster.client_kwargs, enable_idempotence=True)
    await producer.start()
    try:
        await producer.partitions_for(topic)  # metadata known, as the relay's producer has it after start-up
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key, headers=HEADERS) for key, value in records]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def app_seconds(ctx: BenchContext, topic: str, commands: list[PlaceOrder], chunk: int | None) -> float:
    """Seconds until every command is published; chunk=None: one place_order at a time."""
    folder = ctx.fresh_dir("command")
    service = CommandService(folder / "command.db", ctx.cluster.client_kwargs, topic, "bench-command")
    await service.start()
    try:
        async with asyncio.timeout(60):
            while not service.relay_connected:  # the relay's producer is up, as on a desk that runs
                await asyncio.sleep(0.01)
        started = time.perf_counter()
        if chunk is None:
            for cmd in commands:
                await service.place_order(cmd)
        else:
            for first in range(0, len(commands), chunk):
                await service.place_orders(commands[first:first + chunk])
        receipt = await service.wait_published(commands[-1].command_id, TIMEOUT_S)
        seconds = time.perf_counter() - started
        if receipt.status != "published" or service.pending_count():
            raise RuntimeError(f"{service.pending_count()} orders still pending")
        return seconds
    finally:
        await service.stop()


def run(ctx: BenchContext) -> BenchResult:
    sizes = ctx.sizes
    result = BenchResult(
        "command", "3. Command throughput", "raw aiokafka idempotent producer, same event bytes, futures gathered",
        params={"bulk_orders": sizes.command_orders, "bulk_chunk": sizes.command_chunk,
                "single_orders": sizes.command_single_orders},
    )
    bulk = result.row(f"bulk place_orders ×{sizes.command_chunk}", "orders/s", Target(">=", TARGET_RATIO, on="ratio"))
    single = result.row("one place_order at a time", "orders/s")
    for rep in range(ctx.reps):
        orders = list(OrderGenerator(300 + rep, prefix=f"cmd{rep}").orders(sizes.command_orders))
        raw_s = asyncio.run(raw_seconds(ctx, ctx.cluster.new_topic("command-raw"), [encode_order(o) for o in orders]))
        app_s = asyncio.run(app_seconds(ctx, ctx.cluster.new_topic("command"), [o.command() for o in orders],
                                        sizes.command_chunk))
        bulk.add(len(orders) / app_s, len(orders) / raw_s)
        few = orders[:sizes.command_single_orders]
        raw_few_s = asyncio.run(raw_seconds(ctx, ctx.cluster.new_topic("command-raw"), [encode_order(o) for o in few]))
        single_s = asyncio.run(app_seconds(ctx, ctx.cluster.new_topic("command"), [o.command() for o in few], None))
        single.add(len(few) / single_s, len(few) / raw_few_s)
        ctx.log(f"command rep {rep + 1}: bulk {len(orders) / app_s:,.0f} orders/s, one at a time "
                f"{len(few) / single_s:,.0f} orders/s, raw producer {len(orders) / raw_s:,.0f} orders/s")
    return result
