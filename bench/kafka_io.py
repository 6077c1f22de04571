"""Kafka plumbing of the benchmarks: the broker, topics, fast producing, and the consume-only baseline."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.events import Record
from desktop_app.broker import EmbeddedBroker, ensure_jars
from desktop_app.broker.topics import ensure_topic
from desktop_app.query.log_end import read_end_offsets
from desktop_app.settings import Settings

PARTITIONS = 6  # the app's default
SEND_WINDOW = 20_000  # send() futures in flight before the oldest are awaited


@dataclass
class BenchCluster:
    """Where the benchmarks run: client arguments and the topics they created (deleted at the end)."""

    bootstrap_servers: str
    embedded: bool
    settings: Settings
    partitions: int = PARTITIONS

    def __post_init__(self) -> None:
        self.topics: list[str] = []

    @property
    def client_kwargs(self) -> dict[str, Any]:
        return self.settings.kafka_client_kwargs(self.bootstrap_servers)

    def new_topic(self, name: str) -> str:
        """A new topic, as the app creates it, once every partition has a leader."""
        topic = f"bench-{name}-{uuid.uuid4().hex[:8]}"
        asyncio.run(self._create(topic))
        self.topics.append(topic)
        return topic

    async def _create(self, topic: str) -> None:
        await ensure_topic(self.client_kwargs, topic, self.partitions, self.settings.replication_factor,
                           self.settings.min_insync_replicas)
        admin = AIOKafkaAdminClient(**self.client_kwargs, request_timeout_ms=30_000)
        await admin.start()
        try:
            for _ in range(100):
                (described,) = await admin.describe_topics([topic])
                if all(p["leader"] >= 0 for p in described["partitions"]):
                    return
                await asyncio.sleep(0.1)
        finally:
            await admin.close()

    def delete_topics(self) -> None:
        if not self.topics:
            return

        async def delete() -> None:
            admin = AIOKafkaAdminClient(**self.client_kwargs, request_timeout_ms=30_000)
            await admin.start()
            try:
                await admin.delete_topics(self.topics)
            finally:
                await admin.close()

        asyncio.run(delete())
        self.topics.clear()


@contextmanager
def bench_cluster(workdir: Path) -> Iterator[BenchCluster]:
    """The configured cluster (ORDER_DESK_BOOTSTRAP_SERVERS, with its security settings), else a fresh
    embedded broker in `workdir`, stopped at the end."""
    settings = Settings(data_dir=workdir / "desk")
    if not settings.embedded:
        cluster = BenchCluster(settings.bootstrap_servers, embedded=False, settings=settings)
        try:
            yield cluster
        finally:
            cluster.delete_topics()
        return
    broker = EmbeddedBroker(
        workdir / "kafka", ensure_jars(settings.cache_dir), workdir / "logs",
        heap=settings.broker_heap, start_timeout_s=120, partitions=PARTITIONS,
    )
    started = time.perf_counter()
    asyncio.run(broker.start())
    print(f"[bench] embedded Kafka broker on {broker.bootstrap_servers} ({time.perf_counter() - started:.1f} s to"
          " start)", file=sys.stderr, flush=True)
    try:
        yield BenchCluster(broker.bootstrap_servers, embedded=True,
                           settings=settings.model_copy(update={"bootstrap_servers": broker.bootstrap_servers}))
    finally:
        try:
            asyncio.run(broker.stop())
        finally:
            if broker.is_running():
                broker.kill()
            shutil.rmtree(workdir / "kafka", ignore_errors=True)


# -- producing ---------------------------------------------------------------------------------------------


def fast_producer(client_kwargs: dict[str, Any], **overrides: Any) -> AIOKafkaProducer:
    """The idempotent producer, tuned for bulk: bigger batches, a short linger."""
    options: dict[str, Any] = {"enable_idempotence": True, "linger_ms": 5, "max_batch_size": 256 * 1024}
    options.update(overrides)
    return AIOKafkaProducer(**client_kwargs, **options)


async def send_all(producer: AIOKafkaProducer, topic: str, records: Iterable[Record]) -> int:
    """Send pre-encoded (key, value, headers) records, gathering the send() futures a window at a time."""
    pending: list[asyncio.Future[Any]] = []
    sent = 0
    for key, value, headers in records:
        pending.append(await producer.send(topic, value, key=key, headers=headers))
        sent += 1
        if len(pending) >= SEND_WINDOW:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    return sent


async def produce(client_kwargs: dict[str, Any], topic: str, records: Iterable[Record]) -> int:
    producer = fast_producer(client_kwargs)
    await producer.start()
    try:
        return await send_all(producer, topic, records)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class ProduceJob:
    """`count` events of the seeded stream (see bench.events and bench.produce) into `topic`; about
    `cancel_share` of them cancel earlier orders of the same job."""

    topic: str
    count: int
    seed: int = 7
    skew: float | None = 1.1
    start: int = 0
    rate: float = 0.0
    kind: str = "orders"
    cancel_share: float = 0.0

    def command(self, cluster: BenchCluster) -> list[str]:
        return [
            sys.executable, "-m", "bench.produce", cluster.bootstrap_servers, self.topic, str(self.count),
            "--seed", str(self.seed), "--skew", "none" if self.skew is None else str(self.skew),
            "--start", str(self.start), "--rate", str(self.rate), "--kind", self.kind,
            "--cancel-share", str(self.cancel_share),
        ]


def produce_in_children(
    cluster: BenchCluster, jobs: Sequence[ProduceJob], timeout: float = 1800
) -> list[dict[str, Any]]:
    """Run the jobs at once, each in its own process; their JSON reports, in order."""
    processes = [
        subprocess.Popen(job.command(cluster), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=child_env(cluster))
        for job in jobs
    ]
    reports = []
    try:
        for job, process in zip(jobs, processes, strict=True):
            out, err = process.communicate(timeout=timeout)
            if process.returncode != 0:
                raise RuntimeError(f"producing {job.topic} failed ({process.returncode}):\n{err[-3000:]}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return reports


def child_env(cluster: BenchCluster) -> dict[str, str]:
    """The environment of a benchmark's child process: this package importable, the cluster configured."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["ORDER_DESK_BOOTSTRAP_SERVERS"] = cluster.bootstrap_servers
    return env


# -- the consume-only baseline -------------------------------------------------------------------------------


def end_offsets(cluster: BenchCluster, topic: str) -> dict[int, int]:
    return asyncio.run(read_end_offsets(cluster.client_kwargs, topic))


async def consume_only(client_kwargs: dict[str, Any], topic: str, ends: dict[int, int],
                       max_records: int = 10_000) -> tuple[int, float]:
    """Read every partition from offset 0 to `ends` and JSON-decode each value: no database, no model.

    The same consumer set-up as the projector (no group, manual assignment, fetch_max_wait_ms=20, the same
    batch size). Returns (records, seconds), timed from creating the consumer.
    """
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(**client_kwargs, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=20)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        remaining = {partition: end for partition, end in ends.items() if end > 0}
        count = 0
        loads = json.loads
        while remaining:
            batch = await consumer.getmany(timeout_ms=500, max_records=max_records)
            for tp, records in batch.items():
                for record in records:
                    loads(record.value)
                count += len(records)
                if records and records[-1].offset + 1 >= remaining.get(tp.partition, 0):
                    remaining.pop(tp.partition, None)
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


def total(ends: dict[int, int]) -> int:
    return sum(ends.values())
