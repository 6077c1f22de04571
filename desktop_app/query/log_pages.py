"""Pages of the log across partitions, older or newer from a cursor: the merge and the cursors, over any reader.

A cursor holds one offset per partition: the boundary between what was scanned and what was not. Scanning
OLDER from it reads each partition downwards from its boundary, scanning NEWER reads upwards; the partitions
are merged by record timestamp (a k-way merge: a record is taken only while every partition with records
left has its next one in hand), so a page across partitions reads newest (or oldest) first. The cursor
after a scan captures the whole state of the merge, so the next page re-reads nothing it took.

The work per page is bounded: a scan stops after `budget` records whether or not any matched, and says
that more are left, so a filter that matches nothing never reads the whole log in one go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from desktop_app.query.log_reader import BatchHandler, LogRecord

E = TypeVar("E")

CHUNK = 200  # records read per partition at a time
SCAN_BUDGET = 5_000  # records looked at per page, at most


class Direction(Enum):
    OLDER = "older"  # offsets downwards from the cursor
    NEWER = "newer"  # offsets upwards from the cursor


class RangeReader(Protocol):
    """What a scan needs of the log: LogReader.read (ranges [start, stop) per partition, in batches)."""

    def read(self, ranges: Mapping[int, tuple[int, int]], on_batch: BatchHandler) -> Awaitable[bool]: ...


Window = Mapping[int, tuple[int, int]]  # partition -> (floor, ceiling): the offsets a scan may visit
Cursor = dict[int, int]  # partition -> boundary offset


@dataclass(frozen=True, slots=True)
class Scan(Generic[E]):
    entries: tuple[E, ...]  # the kept entries, in scan order (newest first for OLDER)
    cursor: Cursor  # where the next scan in the same direction starts
    scanned: int  # records looked at
    more: bool  # records are left beyond the cursor in this direction
    out_of_budget: bool  # stopped at the budget before a full page: more may match further on


def clamp(cursor: Mapping[int, int], window: Window, direction: Direction) -> Cursor:
    """The cursor within the window; a partition it does not name starts at the window's near end."""
    start = {p: (ceiling if direction is Direction.OLDER else floor) for p, (floor, ceiling) in window.items()}
    return {p: min(max(cursor.get(p, start[p]), floor), ceiling) for p, (floor, ceiling) in window.items()}


def left_in(window: Window, cursor: Mapping[int, int], direction: Direction) -> dict[int, tuple[int, int]]:
    """Per partition, the offsets not yet scanned in this direction: [start, stop)."""
    if direction is Direction.OLDER:
        return {p: (floor, cursor[p]) for p, (floor, _) in window.items()}
    return {p: (cursor[p], ceiling) for p, (_, ceiling) in window.items()}


async def scan(reader: RangeReader, window: Window, start: Mapping[int, int], direction: Direction,
               judge: Callable[[Sequence[LogRecord]], Sequence[E]], keep: Callable[[E], bool], *,
               size: int, budget: int = SCAN_BUDGET, chunk: int = CHUNK) -> Scan[E]:
    """Up to `size` entries that `keep` accepts, merged across the window's partitions, from `start`.

    `judge` turns a batch of records into entries (one each, same order), so a batch's look-ups are done once.
    """
    older = direction is Direction.OLDER
    cursor = clamp(start, window, direction)
    buffers: dict[int, deque[tuple[LogRecord, E]]] = {p: deque() for p in window}
    edges: dict[int, int] = {}  # the far edge of a partition's last chunk: its cursor once the chunk is used up

    async def refill() -> None:
        # until every partition has its next record in hand, or has none left
        while True:
            wanted: dict[int, tuple[int, int]] = {}
            for partition, buffer in buffers.items():
                if buffer:
                    continue
                if partition in edges:
                    cursor[partition] = edges.pop(partition)
                low, high = left_in(window, cursor, direction)[partition]
                if high > low:
                    wanted[partition] = (max(low, high - chunk), high) if older else (low, min(high, low + chunk))
            if not wanted:
                return
            records: list[LogRecord] = []
            await reader.read(wanted, records.extend)
            entries = judge(records)
            read = sorted(zip(records, entries), key=lambda pair: pair[0].offset, reverse=older)
            for record, entry in read:
                if record.partition in wanted:
                    buffers[record.partition].append((record, entry))
            for partition, (low, high) in wanted.items():
                edges[partition] = low if older else high

    def merge_key(partition: int) -> tuple[int, int]:
        record = buffers[partition][0][0]
        return (record.timestamp, partition)

    kept: list[E] = []
    scanned = 0
    while len(kept) < size and scanned < budget:
        await refill()
        heads = [p for p, buffer in buffers.items() if buffer]
        if not heads:
            break
        partition = max(heads, key=merge_key) if older else min(heads, key=merge_key)
        record, entry = buffers[partition].popleft()
        cursor[partition] = record.offset if older else record.offset + 1
        scanned += 1
        if keep(entry):
            kept.append(entry)
    for partition, edge in edges.items():
        if not buffers[partition]:  # its chunk is used up, gaps and all
            cursor[partition] = edge
    more = any(high > low for low, high in left_in(window, cursor, direction).values())
    return Scan(tuple(kept), cursor, scanned, more, out_of_budget=more and len(kept) < size)
