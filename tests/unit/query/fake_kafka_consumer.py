"""A fake of the part of AIOKafkaConsumer the fetch loop uses (consumer.py), over an in-memory log: for
unit tests of the loop's and the runner's control flow without a broker. (Imported by a unique name.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable

from aiokafka import TopicPartition

from desktop_app.query.projector import Record


class FakeLog:
    """One topic's partitions as lists of records; appended to from any thread."""

    def __init__(self, topic: str, partitions: int = 1) -> None:
        self.topic = topic
        self._lock = threading.Lock()
        self._partitions: dict[int, list[Record]] = {partition: [] for partition in range(partitions)}

    def append(self, *records: Record) -> None:
        with self._lock:
            for record in records:
                held = self._partitions[record.partition]
                assert record.topic == self.topic and record.offset == len(held), "records must come in order"
                held.append(record)

    def add_partition(self) -> int:
        with self._lock:
            partition = len(self._partitions)
            self._partitions[partition] = []
            return partition

    def partitions(self) -> set[int]:
        with self._lock:
            return set(self._partitions)

    def end(self, partition: int) -> int:
        with self._lock:
            return len(self._partitions[partition])

    def ends(self) -> dict[int, int]:
        with self._lock:
            return {partition: len(held) for partition, held in self._partitions.items()}

    def read(self, partition: int, start: int, count: int) -> list[Record]:
        with self._lock:
            return self._partitions[partition][start:start + count]


class FakeConsumer:
    """getmany hands out at most `per_fetch` records (partitions in turn) from each assigned partition's
    position; as in aiokafka, a partition's high-water mark is known once a fetch of it came back, and a
    getmany with nothing to hand out waits (a little). `failures` are raised by the next getmany calls;
    `during_fetch`, if set, is called (once) at the start of the next getmany, as if it happened meanwhile."""

    def __init__(self, log: FakeLog, *, per_fetch: int = 10_000, failures: Iterable[BaseException] = ()) -> None:
        self.log = log
        self.per_fetch = per_fetch
        self.failures = list(failures)
        self.positions: dict[int, int | None] = {}  # None: assigned, not yet sought
        self.highwaters: dict[int, int] = {}
        self.calls: list[tuple] = []  # what the loop asked, in order (getmany: its timeout and max_records)
        self.started = self.stopped = False
        self.during_fetch: Callable[[], None] | None = None

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.log.partitions() if topic == self.log.topic else None

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.log.end(tp.partition) for tp in tps}

    def assign(self, tps: list[TopicPartition]) -> None:
        self.calls.append(("assign", sorted(tp.partition for tp in tps)))
        self.positions = {tp.partition: self.positions.get(tp.partition) for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.calls.append(("seek", tp.partition, offset))
        self.positions[tp.partition] = offset

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.calls.append(("seek_to_beginning", sorted(tp.partition for tp in tps)))
        for tp in tps:
            self.positions[tp.partition] = 0

    async def getmany(self, *tps: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Record]]:
        self.calls.append(("getmany", timeout_ms, max_records))
        if self.failures:
            raise self.failures.pop(0)
        happening, self.during_fetch = self.during_fetch, None
        if happening is not None:
            happening()
        budget = min(max_records or self.per_fetch, self.per_fetch)
        batch: dict[TopicPartition, list[Record]] = {}
        for partition, position in sorted(self.positions.items()):
            assert position is not None, f"partition {partition} fetched before it was sought"
            self.highwaters[partition] = self.log.end(partition)
            taken = self.log.read(partition, position, budget)
            if taken:
                batch[TopicPartition(self.log.topic, partition)] = taken
                self.positions[partition] = position + len(taken)
                budget -= len(taken)
        if not batch:
            await asyncio.sleep(min(timeout_ms, 20) / 1000)
        return batch

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp.partition)

    def getmany_calls(self) -> list[tuple]:
        return [call[1:] for call in self.calls if call[0] == "getmany"]

    def placement_calls(self) -> list[tuple]:
        """assign, seek and seek_to_beginning calls, in order."""
        return [call for call in self.calls if call[0] != "getmany"]
