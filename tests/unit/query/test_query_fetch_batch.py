"""runner.fetch_batch: one getmany when live; while they come back full (a backlog), more of them gathered into
one transaction, up to ProjectorOptions.max_records. A fake consumer stands in for aiokafka."""

from __future__ import annotations

import asyncio

from desktop_app.query.runner import ProjectorOptions, fetch_batch


class FakeConsumer:
    """getmany hands out what is 'buffered', at most max_records, as aiokafka does (a dict per partition)."""

    def __init__(self, buffered: int) -> None:
        self.buffered = list(range(buffered))
        self.calls: list[tuple[int, int]] = []  # (timeout_ms, max_records)

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[int, list[int]]:
        self.calls.append((timeout_ms, max_records))
        taken, self.buffered = self.buffered[:max_records], self.buffered[max_records:]
        return {0: taken} if taken else {}


OPTIONS = ProjectorOptions(fetch_records=100, max_records=350, poll_timeout_ms=500, fetch_max_wait_ms=20)


def test_live_a_short_getmany_is_applied_at_once() -> None:
    consumer = FakeConsumer(7)
    assert asyncio.run(fetch_batch(consumer, OPTIONS)) == list(range(7))
    assert consumer.calls == [(500, 100)]


def test_behind_full_getmany_results_are_gathered_up_to_the_transaction_size() -> None:
    consumer = FakeConsumer(1000)
    records = asyncio.run(fetch_batch(consumer, OPTIONS))
    assert records == list(range(350))  # in order, nothing lost or repeated
    assert consumer.calls == [(500, 100), (20, 100), (20, 100), (20, 50)]
    assert asyncio.run(fetch_batch(consumer, OPTIONS)) == list(range(350, 700))


def test_gathering_stops_when_the_backlog_is_read() -> None:
    consumer = FakeConsumer(230)
    assert asyncio.run(fetch_batch(consumer, OPTIONS)) == list(range(230))
    assert consumer.calls[-1] == (20, 100)  # the getmany that found nothing more
    assert asyncio.run(fetch_batch(consumer, OPTIONS)) == []


def test_batches_smaller_than_a_getmany_are_never_gathered() -> None:
    consumer = FakeConsumer(100)
    options = ProjectorOptions(max_records=25)  # as tests that slow a rebuild down ask
    assert asyncio.run(fetch_batch(consumer, options)) == list(range(25))
    assert consumer.calls == [(options.poll_timeout_ms, 25)]
