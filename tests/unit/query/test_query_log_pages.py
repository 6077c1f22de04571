"""log_pages: the merge across partitions and the cursors, over an in-memory log (control flow only)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.query.log_pages import Direction, scan
from desktop_app.query.log_reader import LogRecord


class MemoryLog:
    """A log held in memory: partition -> records; `read` as LogReader's (ranges, batches). Counts reads."""

    def __init__(self, partitions: Mapping[int, list[LogRecord]]) -> None:
        self.partitions = partitions
        self.records_read = 0

    async def read(self, ranges, on_batch) -> bool:
        for partition, (start, stop) in ranges.items():
            batch = [r for r in self.partitions[partition] if start <= r.offset < stop]
            self.records_read += len(batch)
            if batch:
                on_batch(batch)
        return True

    def window(self) -> dict[int, tuple[int, int]]:
        return {p: (0, (records[-1].offset + 1) if records else 0) for p, records in self.partitions.items()}


def record(partition: int, offset: int, timestamp: int, value: bytes = b"x") -> LogRecord:
    return LogRecord("t", partition, offset, timestamp, None, value, ())


def run_scan(log: MemoryLog, start, direction, *, size=3, keep=lambda r: True, budget=1000, chunk=2):
    return asyncio.run(scan(log, log.window(), start, direction, lambda records: list(records), keep,
                            size=size, budget=budget, chunk=chunk))


def positions(entries) -> list[tuple[int, int]]:
    return [(e.partition, e.offset) for e in entries]


@pytest.fixture
def log() -> MemoryLog:
    # times interleave across partitions: p0 at 10, 40, 50, 90; p1 at 20, 30, 60; p2 at 70, 80
    return MemoryLog({
        0: [record(0, 0, 10), record(0, 1, 40), record(0, 2, 50), record(0, 3, 90)],
        1: [record(1, 0, 20), record(1, 1, 30), record(1, 2, 60)],
        2: [record(2, 0, 70), record(2, 1, 80)],
    })


def test_newest_first_merges_the_partitions_by_time_and_pages_on_without_overlap(log) -> None:
    first = run_scan(log, {}, Direction.OLDER)
    assert positions(first.entries) == [(0, 3), (2, 1), (2, 0)]
    assert first.more and not first.out_of_budget
    second = run_scan(log, first.cursor, Direction.OLDER)
    assert positions(second.entries) == [(1, 2), (0, 2), (0, 1)]
    third = run_scan(log, second.cursor, Direction.OLDER)
    assert positions(third.entries) == [(1, 1), (1, 0), (0, 0)]
    assert not third.more and third.cursor == {0: 0, 1: 0, 2: 0}


def test_oldest_first_is_the_same_merge_upwards(log) -> None:
    first = run_scan(log, {}, Direction.NEWER, size=4)
    assert positions(first.entries) == [(0, 0), (1, 0), (1, 1), (0, 1)]
    rest = run_scan(log, first.cursor, Direction.NEWER, size=10)
    assert positions(rest.entries) == [(0, 2), (1, 2), (2, 0), (2, 1), (0, 3)]
    assert not rest.more


def test_newer_from_a_page_goes_back_to_the_records_above_it(log) -> None:
    first = run_scan(log, {}, Direction.OLDER)
    second = run_scan(log, first.cursor, Direction.OLDER)
    assert second.entries and not set(positions(second.entries)) & set(positions(first.entries))
    back = run_scan(log, first.cursor, Direction.NEWER)  # from the top of the second page, upwards
    assert sorted(positions(back.entries)) == sorted(positions(first.entries))


def test_a_filter_that_matches_nothing_stops_at_the_budget_and_the_cursor_walks_on(log) -> None:
    cursor: dict[int, int] = {}
    pages = 0
    while True:
        found = run_scan(log, cursor, Direction.OLDER, keep=lambda r: False, budget=4)
        pages += 1
        assert found.entries == () and found.scanned <= 4
        cursor = found.cursor
        if not found.more:
            break
        assert found.out_of_budget
    assert pages == 3  # 9 records, at most 4 looked at per page
    assert cursor == {0: 0, 1: 0, 2: 0}


def test_gaps_in_the_offsets_are_stepped_over() -> None:
    # a compacted partition: offsets 0..9 with only 2 and 9 left
    gappy = MemoryLog({0: [record(0, 2, 1), record(0, 9, 2)]})
    found = asyncio.run(scan(gappy, {0: (0, 10)}, {}, Direction.OLDER, list, lambda r: True, size=5, chunk=3))
    assert positions(found.entries) == [(0, 9), (0, 2)]
    assert found.cursor == {0: 0} and not found.more


def test_a_cursor_outside_the_window_is_clamped(log) -> None:
    found = asyncio.run(scan(log, {0: (1, 3)}, {0: 99}, Direction.OLDER, list, lambda r: True, size=5))
    assert positions(found.entries) == [(0, 2), (0, 1)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=8), min_size=1, max_size=4),
       st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_paging_visits_every_record_once_in_merge_order(times, size, chunk, older) -> None:
    log = MemoryLog({p: [record(p, o, t) for o, t in enumerate(sorted(ts))] for p, ts in enumerate(times)})
    direction = Direction.OLDER if older else Direction.NEWER
    seen: list[tuple[int, int, int]] = []
    cursor: dict[int, int] = {}
    while True:
        found = run_scan(log, cursor, direction, size=size, chunk=chunk)
        assert len(found.entries) <= size
        seen += [(r.timestamp, r.partition, r.offset) for r in found.entries]
        cursor = found.cursor
        if not found.more:
            break
    everything = [(r.timestamp, r.partition, r.offset) for records in log.partitions.values() for r in records]
    # per partition times are sorted here, so the merge is a sort by (time, partition)
    assert seen == sorted(everything, reverse=older)
