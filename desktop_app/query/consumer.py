"""The fetch loop: an aiokafka consumer without a group, following every partition of one topic.

`TopicFeed` assigns itself every partition (partitions added to the topic show in metadata refreshes, every
`metadata_interval_s`) and seeks each to the next offset stored in the view, or to the beginning. Each
`next_batch` is one `getmany` when live, or several gathered into one batch while behind (catching up,
rebuilding), with the high-water marks the fetches saw. It never commits: where the view is in the log is
stored with the view (tracking.py). runner.ProjectorThread drives it: consumer → projector → tracking → listeners.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from desktop_app.query.log_end import topic_end_offsets
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.tracking import Offsets

log = logging.getLogger(__name__)


def new_consumer(client_kwargs: Mapping[str, Any], options: ProjectorOptions) -> AIOKafkaConsumer:
    """A consumer without a group that never commits: it is told where to read (TopicFeed seeks it)."""
    return AIOKafkaConsumer(
        **client_kwargs,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=options.fetch_max_wait_ms,
        metadata_max_age_ms=int(options.metadata_interval_s * 1000),
        **options.consumer_overrides,
    )


@asynccontextmanager
async def started_consumer(consumer: AIOKafkaConsumer) -> AsyncIterator[AIOKafkaConsumer]:
    """The consumer started, and stopped after, also when starting it failed (its client may be open)."""
    try:
        await consumer.start()
        yield consumer
    finally:
        try:
            await consumer.stop()
        except Exception:  # noqa: BLE001 - closing a broken consumer may fail too
            log.debug("closing the consumer failed", exc_info=True)


@dataclass(frozen=True, slots=True)
class Fetched:
    records: list[Any]  # in offset order within each partition
    highwaters: Offsets  # partition -> high-water mark as of the fetches, for assigned partitions fetched so far


class TopicFeed:
    """Batches of every partition of `topic` through a started `consumer`, from `start_offsets()` on: the
    next offsets stored in the view, read again whenever the partitions change (absent ones: the beginning)."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str, options: ProjectorOptions,
                 start_offsets: Callable[[], Offsets], *, label: str = "consumer") -> None:
        self.topic = topic
        self.label = label  # who reads, for the log lines
        self._consumer = consumer
        self._options = options
        self._start_offsets = start_offsets
        self.assigned: frozenset[int] = frozenset()

    async def log_end(self) -> Offsets:
        """The topic's end offsets, asked of the broker. Also makes the client track the topic, so metadata
        refreshes reveal partitions added later; a missing topic raises KafkaTimeoutError."""
        return await topic_end_offsets(self._consumer, self.topic)

    async def next_batch(self) -> Fetched:
        """The next records (maybe none: a live getmany waits at most poll_timeout_ms)."""
        partitions = frozenset(self._consumer.partitions_for_topic(self.topic) or ())
        if partitions and partitions != self.assigned:
            await self._assign(partitions)
        records = await fetch_batch(self._consumer, self._options)
        return Fetched(records, self._highwaters())

    async def _assign(self, partitions: frozenset[int]) -> None:
        """(Re)assign every partition and seek each to its stored next offset, or to the beginning."""
        stored = self._start_offsets()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        unread = []
        for tp in tps:
            if tp.partition in stored:
                self._consumer.seek(tp, stored[tp.partition])
            else:
                unread.append(tp)
        if unread:
            await self._consumer.seek_to_beginning(*unread)
        self.assigned = partitions
        log.info("%s: projecting %s partitions %s from %s", self.label, self.topic, sorted(partitions), stored)

    def _highwaters(self) -> Offsets:
        known = {}
        for partition in self.assigned:
            highwater = self._consumer.highwater(TopicPartition(self.topic, partition))
            if highwater is not None:
                known[partition] = highwater
        return known


async def fetch_batch(consumer: AIOKafkaConsumer, options: ProjectorOptions) -> list[Any]:
    """The next batch to apply: one getmany, and while the log holds more than was read (a backlog: catching up
    or rebuilding) more of them, up to `max_records`. Live, one getmany is all: no added latency."""
    per_getmany = min(options.fetch_records, options.max_records)
    batch = await consumer.getmany(timeout_ms=options.poll_timeout_ms, max_records=per_getmany)
    records = [record for partition_records in batch.values() for record in partition_records]
    while len(records) < options.max_records and _behind(consumer, batch):
        wanted = min(per_getmany, options.max_records - len(records))
        batch = await consumer.getmany(timeout_ms=options.fetch_max_wait_ms, max_records=wanted)
        if not batch:
            break
        records += [record for partition_records in batch.values() for record in partition_records]
    return records


def _behind(consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[Any]]) -> bool:
    """Whether a partition of this getmany has records beyond it (its high-water mark as last fetched)."""
    for tp, partition_records in batch.items():
        highwater = consumer.highwater(tp)
        if partition_records and highwater is not None and partition_records[-1].offset + 1 < highwater:
            return True
    return False
