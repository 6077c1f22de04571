"""The event browser against the real broker: decode results as the projector stored them, pages newest first,
filters, a record's own page, a broker that is away, and the SASL_SSL cluster."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from support.order_stream import cancel_event, order_event

from desktop_app import contracts
from desktop_app.broker.topics import ensure_topic
from desktop_app.query.event_log import EventLog, EventLogError, LogFilter, Outcome, PageRequest
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

T0 = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)
MALFORMED = b'{"event_id": "not a uuid", "event_type": "OrderPlaced"}'

Written = tuple[int, bytes | None, bytes | None, tuple[tuple[str, bytes], ...], datetime]


async def produce(settings: Settings, records: list[Written]) -> list[tuple[int, int]]:
    """Raw records, as a hand-written tool would send them: (partition, key, value, headers, time)."""
    producer = AIOKafkaProducer(**settings.kafka_client_kwargs())
    await producer.start()
    try:
        positions = []
        for partition, key, value, headers, at in records:
            sent = await producer.send_and_wait(settings.topic, value, key=key, partition=partition,
                                                headers=list(headers), timestamp_ms=int(at.timestamp() * 1000))
            positions.append((sent.partition, sent.offset))
        return positions
    finally:
        await producer.stop()


def event(partition: int, ev: contracts.Event, at: datetime) -> Written:
    wire = contracts.encode(ev)
    return (partition, wire.key, wire.value, wire.headers, at)


def service_on(settings: Settings) -> QueryService:
    service = QueryService(settings.data_dir / "readmodel.db", settings.kafka_client_kwargs(), settings.topic)
    service.start()
    assert service.catch_up(60)
    return service


@pytest.fixture
def orders() -> list[contracts.EventEnvelope]:
    # seven orders a minute apart, spread over the three partitions
    customers = ["alice", "bob", "carol", "alice", "bob", "carol", "alice"]
    return [order_event(c, ("Tea", 350, i + 1), at=T0 + timedelta(minutes=i)) for i, c in enumerate(customers)]


@pytest.fixture
def written(topic_ready: Settings, orders) -> Iterator[tuple[Settings, QueryService, dict[str, Any]]]:
    records = [event(i % 3, ev, T0 + timedelta(minutes=i)) for i, ev in enumerate(orders)]
    records.append((1, b"dave", MALFORMED, contracts.headers_of(contracts.ORDER_PLACED), T0 + timedelta(minutes=7)))
    unknown = cancel_event(order_event("erin", ("Pen", 120, 1)), reason="typo", at=T0 + timedelta(minutes=8))
    records.append(event(2, unknown, T0 + timedelta(minutes=8)))
    positions = asyncio.run(produce(topic_ready, records))
    service = service_on(topic_ready)
    try:
        yield topic_ready, service, {"positions": positions, "malformed": positions[7], "ignored": positions[8]}
    finally:
        service.close()


def test_the_browser_shows_a_malformed_records_quarantine_reason_as_the_projector_stored_it(written) -> None:
    settings, service, known = written
    page = service.event_log().page_blocking(PageRequest.first(LogFilter(outcome=Outcome.QUARANTINED)))
    [entry] = page.entries
    [stored] = service.quarantined()
    assert (entry.partition, entry.offset) == known["malformed"] == (stored.partition, stored.offset)
    assert entry.reason == stored.reason and entry.reason.startswith("contract violation at event_id")
    assert entry.value == MALFORMED and entry.key == b"dave"
    assert entry.headers == contracts.headers_of(contracts.ORDER_PLACED)
    # the same reason from decoding alone, without any view: the projector's rule, not a copy of it
    bare = EventLog(settings.kafka_client_kwargs(), settings.topic)
    [again] = bare.page_blocking(PageRequest.at(*known["malformed"])).entries[:1]
    assert (again.partition, again.offset, again.outcome, again.reason) == (*known["malformed"],
                                                                         Outcome.QUARANTINED, stored.reason)


def test_the_browser_shows_an_ignored_event_with_the_views_reason(written) -> None:
    _, service, known = written
    [ignored] = service.ignored()
    page = service.event_log().page_blocking(PageRequest.first(LogFilter(customer="erin")))
    [entry] = page.entries
    assert (entry.partition, entry.offset) == known["ignored"] == (ignored.partition, ignored.offset)
    assert entry.outcome is Outcome.IGNORED and entry.reason == ignored.reason
    assert entry.event_type == contracts.ORDER_CANCELLED


def test_pages_go_newest_first_across_partitions_and_back(written) -> None:
    _, service, known = written
    browser = service.event_log()
    times = []
    page = browser.page_blocking(PageRequest.first(size=4))
    assert not page.has_newer and page.has_older and page.partitions == (0, 1, 2)
    seen = []
    while True:
        seen += [(e.partition, e.offset) for e in page.entries]
        times += [e.timestamp for e in page.entries]
        if not page.has_older:
            break
        page = browser.page_blocking(page.older_page())
    assert seen == list(reversed(known["positions"]))  # written a minute apart: newest first is the reverse
    assert times == sorted(times, reverse=True)
    back = browser.page_blocking(page.newer_page())  # from the oldest page, the one above it
    assert [(e.partition, e.offset) for e in back.entries] == seen[4:8]
    oldest = browser.page_blocking(PageRequest.first(newest_first=False, size=3))
    assert [(e.partition, e.offset) for e in oldest.entries] == known["positions"][:3]
    assert all(e.outcome is Outcome.VALID and e.in_view for e in oldest.entries)


def test_filters_by_customer_order_type_and_time(written, orders) -> None:
    _, service, known = written
    browser = service.event_log()

    def found(**criteria) -> list[tuple[int, int]]:
        return [(e.partition, e.offset) for e in browser.page_blocking(PageRequest.first(LogFilter(**criteria))).entries]

    positions = known["positions"]
    assert found(customer="alice") == [positions[6], positions[3], positions[0]]
    assert found(customer="dave") == [known["malformed"]]  # by its key: it has no decoded customer
    assert found(order_id=str(orders[4].payload.order_id)[:8]) == [positions[4]]
    assert found(event_type=contracts.ORDER_CANCELLED) == [known["ignored"]]
    assert found(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5)) == [
        positions[4], positions[3], positions[2]]
    assert found(customer="alice", since=T0 + timedelta(minutes=1)) == [positions[6], positions[3]]
    assert found(customer="nobody") == []


def test_a_filter_matching_nothing_reports_how_far_it_looked(written) -> None:
    settings, service, _ = written
    browser = EventLog(settings.kafka_client_kwargs(), settings.topic, budget=4)
    page = browser.page_blocking(PageRequest.first(LogFilter(customer="nobody")))
    assert page.entries == () and page.scanned == 4 and page.out_of_budget and page.has_older
    page = browser.page_blocking(page.older_page())
    assert page.entries == () and page.scanned == 4 and page.out_of_budget
    page = browser.page_blocking(page.older_page())
    assert page.scanned == 1 and not page.has_older and not page.out_of_budget


def test_a_records_own_page_starts_at_it(written) -> None:
    _, service, known = written
    partition, offset = known["malformed"]
    page = service.event_log().page_blocking(PageRequest.at(partition, offset))
    assert page.request.select == (partition, offset)
    assert [(e.partition, e.offset) for e in page.entries] == [(partition, o) for o in range(offset, -1, -1)]
    assert not page.has_newer  # the malformed record is the partition's last


def test_an_unknown_partition_and_a_broker_that_is_away_are_one_line(written) -> None:
    settings, service, _ = written
    with pytest.raises(EventLogError, match="partition 7 does not exist: .* has partitions 0–2"):
        service.event_log().page_blocking(PageRequest.first(LogFilter(partition=7)))
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    away = EventLog(settings.kafka_client_kwargs(f"127.0.0.1:{port}"), settings.topic)
    with pytest.raises(EventLogError, match="cannot reach the broker: connection refused") as raised:
        away.page_blocking(PageRequest.first(), timeout=30)
    assert "\n" not in str(raised.value)


# -- the SASL_SSL cluster ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from support.secure_broker import SecureBroker  # needs the `cryptography` package

    from desktop_app.broker import ensure_jars

    broker = SecureBroker(tmp_path_factory.mktemp("secure"), ensure_jars(Settings().cache_dir), "order-desk",
                          "correct horse battery staple")
    try:
        asyncio.run(broker.node.start())
        yield broker
    finally:
        broker.node.kill()


def test_the_browser_works_on_the_sasl_ssl_cluster(secure_broker, tmp_path: Path) -> None:
    settings = secure_broker.settings(tmp_path / "desk", "orders-secure")
    asyncio.run(ensure_topic(settings.kafka_client_kwargs(), settings.topic, settings.partitions, 1, 1))
    placed = order_event("alice", ("Tea", 350, 2), at=T0)
    positions = asyncio.run(produce(settings, [
        event(0, placed, T0), (0, b"alice", b"not json", contracts.headers_of(contracts.ORDER_PLACED),
                               T0 + timedelta(minutes=1))]))
    service = service_on(settings)
    try:
        page = service.event_log().page_blocking(PageRequest.first())
        [stored] = service.quarantined()
    finally:
        service.close()
    assert [(e.partition, e.offset, e.outcome) for e in page.entries] == [
        (*positions[1], Outcome.QUARANTINED), (*positions[0], Outcome.VALID)]
    assert page.entries[0].reason == stored.reason == "invalid JSON"
    assert page.entries[1].order_id == str(placed.payload.order_id)
