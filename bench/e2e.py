"""1. End-to-end latency: an order placed through the command service, until the read model shows it.

One order at a time (the next is placed once the previous is visible), with the projector running, as on
a desk. "Visible" is the moment the projector thread committed the batch holding the order's record: the
query service's change listener stamps every commit with the offsets it stored.

Baseline, in the same run: a raw aiokafka idempotent producer sends the same event bytes and a consumer
thread (no group, manually assigned, fetch_max_wait_ms=20, like the projector) receives them.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.context import BenchContext
from bench.events import HEADERS, OrderGenerator, encode_order
from bench.report import BenchResult, Target, percentile
from desktop_app.command.service import CommandService
from desktop_app.query.service import QueryService

TIMEOUT_S = 60.0
P99_TARGET_MS = 50.0


class OffsetClock:
    """When each partition's stored next offset moved past each value. Fed from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._offsets: dict[int, list[int]] = {}
        self._times: dict[int, list[float]] = {}
        self._changed = asyncio.Event()

    def observe(self, offsets: Mapping[int, int]) -> None:
        now = time.perf_counter()
        with self._lock:
            for partition, next_offset in offsets.items():
                known = self._offsets.setdefault(partition, [])
                if not known or next_offset > known[-1]:
                    known.append(next_offset)
                    self._times.setdefault(partition, []).append(now)
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def covered_at(self, partition: int, offset: int) -> float | None:
        """The time the record at (partition, offset) became visible, or None if not yet."""
        with self._lock:
            known = self._offsets.get(partition, [])
            index = bisect.bisect_right(known, offset)  # the first next_offset > offset
            return self._times[partition][index] if index < len(known) else None

    async def visible_at(self, partition: int, offset: int, timeout: float = TIMEOUT_S) -> float:
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                moment = self.covered_at(partition, offset)
                if moment is not None:
                    return moment
                await changed.wait()


class ConsumerThread:
    """The baseline's reader: its own loop and consumer in a thread, as the projector has."""

    def __init__(self, client_kwargs: dict[str, Any], topic: str, clock: OffsetClock) -> None:
        self.client_kwargs, self.topic, self.clock = client_kwargs, topic, clock
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="baseline-consumer")

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(TIMEOUT_S):
            raise RuntimeError(f"the baseline consumer did not start: {self.error!r}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT_S)

    async def _main(self) -> None:
        consumer = AIOKafkaConsumer(**self.client_kwargs, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=20)
        try:
            await consumer.start()
            await consumer.end_offsets([TopicPartition(self.topic, 0)])  # loads the topic's metadata
            tps = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            self.ready.set()
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
                offsets = {tp.partition: records[-1].offset + 1 for tp, records in batch.items() if records}
                if offsets:
                    self.clock.observe(offsets)
        except BaseException as exc:  # noqa: BLE001 - reported by start() or by the timeouts
            self.error = exc
            self.ready.set()
        finally:
            await consumer.stop()


async def app_latencies(ctx: BenchContext, topic: str, commands: list[Any], warmup: int) -> list[float]:
    """Milliseconds from place_order to visible, for each command after the first `warmup`."""
    folder = ctx.fresh_dir("e2e")
    kwargs = ctx.cluster.client_kwargs
    clock = OffsetClock(asyncio.get_running_loop())
    query = QueryService(folder / "readmodel.db", kwargs, topic)
    query.add_listener(lambda change: clock.observe(change.offsets))
    await asyncio.to_thread(query.start)
    command = CommandService(folder / "command.db", kwargs, topic, "bench-e2e")
    await command.start()
    latencies = []
    try:
        for number, cmd in enumerate(commands):
            started = time.perf_counter()
            await command.place_order(cmd)
            receipt = await command.wait_published(cmd.command_id, TIMEOUT_S)
            if receipt.partition is None or receipt.offset is None:
                raise RuntimeError(f"no offset for {cmd.command_id}")
            visible = await clock.visible_at(receipt.partition, receipt.offset)
            if number >= warmup:
                latencies.append((visible - started) * 1000)
    finally:
        await command.stop()
        await asyncio.to_thread(query.close)
    return latencies


async def baseline_latencies(
    ctx: BenchContext, topic: str, records: list[tuple[bytes, bytes]], warmup: int
) -> list[float]:
    kwargs = ctx.cluster.client_kwargs
    clock = OffsetClock(asyncio.get_running_loop())
    consumer = ConsumerThread(kwargs, topic, clock)
    await asyncio.to_thread(consumer.start)
    producer = AIOKafkaProducer(**kwargs, enable_idempotence=True)  # as the relay's
    await producer.start()
    latencies = []
    try:
        for number, (key, value) in enumerate(records):
            started = time.perf_counter()
            sent = await (await producer.send(topic, value, key=key, headers=HEADERS))
            visible = await clock.visible_at(sent.partition, sent.offset)
            if number >= warmup:
                latencies.append((visible - started) * 1000)
    finally:
        await producer.stop()
        await asyncio.to_thread(consumer.stop)
    return latencies


def run(ctx: BenchContext) -> BenchResult:
    sizes = ctx.sizes
    count, warmup = sizes.e2e_orders, sizes.e2e_warmup
    result = BenchResult(
        "e2e", "1. End-to-end latency", "raw aiokafka produce → manually assigned consumer receives it",
        params={"orders": count, "warmup_orders": warmup, "one_at_a_time": True},
    )
    rows = {
        "p50": result.row("p50", "ms"),
        "p95": result.row("p95", "ms"),
        "p99": result.row("p99", "ms", Target("<=", P99_TARGET_MS)),
        "max": result.row("max", "ms"),
    }
    for rep in range(ctx.reps):
        orders = list(OrderGenerator(100 + rep, prefix=f"e2e{rep}").orders(warmup + count))
        records = [encode_order(o) for o in orders]
        baseline = asyncio.run(baseline_latencies(ctx, ctx.cluster.new_topic("e2e-raw"), records, warmup))
        app = asyncio.run(app_latencies(ctx, ctx.cluster.new_topic("e2e"), [o.command() for o in orders], warmup))
        for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
            rows[name].add(percentile(app, fraction), percentile(baseline, fraction))
        ctx.log(f"e2e rep {rep + 1}: app p50 {percentile(app, .5):.1f} ms p99 {percentile(app, .99):.1f} ms; "
                f"baseline p50 {percentile(baseline, .5):.1f} ms p99 {percentile(baseline, .99):.1f} ms")
    return result
