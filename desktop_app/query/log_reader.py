"""Bounded reads of the log: a range of offsets per partition, the log's bounds, the offsets for a moment.

The live projector follows the log without end (consumer.py); everything that reads a known stretch of it
and stops (a record's raw bytes, the event browser's pages, an as-of replay) reads through `LogReader`.
It has no group and never commits or writes: it only assigns, seeks and fetches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from desktop_app.query.log_end import run_blocking, topic_end_offsets

FETCH_TIMEOUT_MS = 1000  # one getmany wait; a range whose records are all on the broker never waits this long
STALL_LIMIT = 30  # empty fetches in a row (about 30 s) before a range is given up as unreadable


class LogReadError(RuntimeError):
    """The log could not be read as asked (an offset beyond the end, or a broker that stopped answering)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record as the broker holds it (the projector accepts these as they are)."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # ms since the epoch, the record's own timestamp
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class PartitionBounds:
    first: int  # the oldest offset still held (0 unless retention removed records)
    end: int  # the offset the next record will get

    @property
    def count(self) -> int:
        return self.end - self.first


BatchHandler = Callable[[list[LogRecord]], Awaitable[None] | None]


def _record_of(message: Any) -> LogRecord:
    return LogRecord(message.topic, message.partition, message.offset, message.timestamp, message.key,
                     message.value, tuple((name, bytes(value or b"")) for name, value in message.headers or ()))


class LogReader:
    """A consumer without a group for reading stretches of one topic: `async with LogReader(...) as log:`."""

    def __init__(self, client_kwargs: Mapping[str, Any], topic: str, *, max_records: int = 10_000) -> None:
        self.topic = topic
        self.max_records = max_records
        self._consumer = AIOKafkaConsumer(**dict(client_kwargs), group_id=None, enable_auto_commit=False,
                                          auto_offset_reset="none")

    async def __aenter__(self) -> LogReader:
        try:
            await self._consumer.start()
        except BaseException:  # a cluster out of reach: close the client, or it is left open (and logged so)
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        # aiokafka 0.14: stopping before the no-group coordinator's task first ran raises CancelledError
        await asyncio.sleep(0)
        await self._consumer.stop()

    async def end_offsets(self) -> dict[int, int]:
        return await topic_end_offsets(self._consumer, self.topic)

    async def bounds(self) -> dict[int, PartitionBounds]:
        """Partition -> (first offset held, end offset), for every partition of the topic."""
        ends = await self.end_offsets()
        tps = [TopicPartition(self.topic, partition) for partition in sorted(ends)]
        firsts = await self._consumer.beginning_offsets(tps)
        return {tp.partition: PartitionBounds(firsts[tp], ends[tp.partition]) for tp in tps}

    async def offsets_at(self, moment: datetime) -> dict[int, int]:
        """Partition -> the first offset whose record's timestamp is at or after `moment` (the end offset
        when there is none): reading each partition up to there gives the log as it stood at `moment`."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        ends = await self.end_offsets()
        stamp = int(moment.timestamp() * 1000)
        found = await self._consumer.offsets_for_times(
            {TopicPartition(self.topic, partition): stamp for partition in ends})
        return {tp.partition: (ends[tp.partition] if hit is None else hit.offset) for tp, hit in found.items()}

    async def read(self, ranges: Mapping[int, tuple[int, int]], on_batch: BatchHandler,
                   cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Read every partition p of `ranges` from start (inclusive) to stop (exclusive), handing batches of
        records to `on_batch` (in offset order within a partition). False if `cancelled()` stopped it."""
        wanted = {p: (start, stop) for p, (start, stop) in ranges.items() if stop > start}
        if not wanted:
            return True
        ends = await self.end_offsets()
        beyond = sorted(p for p, (_, stop) in wanted.items() if stop > ends.get(p, 0))
        if beyond:
            raise LogReadError(f"{self.topic} partition {beyond[0]} ends at offset {ends.get(beyond[0], 0)}, "
                               f"before {wanted[beyond[0]][1]}")
        tps = {p: TopicPartition(self.topic, p) for p in wanted}
        self._consumer.assign(list(tps.values()))
        for partition, (start, _) in wanted.items():
            self._consumer.seek(tps[partition], start)
        left = dict(wanted)
        stalls = 0
        while left:
            if cancelled():
                return False
            batch = await self._consumer.getmany(*[tps[p] for p in left], timeout_ms=FETCH_TIMEOUT_MS,
                                                 max_records=self.max_records)
            records: list[LogRecord] = []
            for tp, messages in batch.items():
                stop = left.get(tp.partition, (0, 0))[1]
                records.extend(_record_of(message) for message in messages if message.offset < stop)
                if messages and messages[-1].offset + 1 >= stop:
                    left.pop(tp.partition, None)
                    self._consumer.pause(tp)
            stalls = 0 if batch else stalls + 1
            if stalls >= STALL_LIMIT:
                raise LogReadError(f"no records arrived for partitions {sorted(left)} of {self.topic}")
            if records:
                handled = on_batch(records)
                if handled is not None:
                    await handled
        return True

    async def records(self, partition: int, start: int, stop: int) -> list[LogRecord]:
        """The records of one partition from start to stop (exclusive): a page, or one record."""
        found: list[LogRecord] = []
        await self.read({partition: (start, stop)}, found.extend)
        return found

    async def record_at(self, partition: int, offset: int) -> LogRecord:
        page = await self.records(partition, offset, offset + 1)
        if not page:
            raise LogReadError(f"partition {partition} of {self.topic} has no record at offset {offset}")
        return page[0]


async def read_records(client_kwargs: Mapping[str, Any], topic: str,
                       positions: Sequence[tuple[int, int]]) -> list[LogRecord]:
    """The records at these (partition, offset) positions, in the order asked."""
    async with LogReader(client_kwargs, topic) as reader:
        return [await reader.record_at(partition, offset) for partition, offset in positions]


def read_records_blocking(client_kwargs: Mapping[str, Any], topic: str, positions: Sequence[tuple[int, int]],
                          timeout: float = 15.0) -> list[LogRecord]:
    """read_records from any thread (a fresh loop in a helper thread, see log_end.run_blocking)."""
    return run_blocking(lambda: read_records(client_kwargs, topic, positions), timeout)


async def offsets_at(client_kwargs: Mapping[str, Any], topic: str, moment: datetime) -> dict[int, int]:
    async with LogReader(client_kwargs, topic) as reader:
        return await reader.offsets_at(moment)

