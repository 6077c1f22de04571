"""Poison flood: malformed records of every kind, some as large as the broker accepts, interleaved with
valid events in the log.

Promise tested: a bad record never takes the app down. Every valid event is projected, every
malformed record is quarantined (with its reason), and the view catches up with the log (lag 0).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from desktop_app import contracts
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings
from support.log_audit import expected_view, view_totals
from support.order_stream import CUSTOMERS, ITEMS, PRICES_PENCE

CATCH_UP_S = 240.0
BROKER_RECORD_LIMIT = 1_048_588  # the broker's default message.max.bytes (one record batch)
HUGE_SIZES = [60_000, 300_000, 700_000, 1_048_000]  # value bytes: the largest still fits in one batch

Wire = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # key, value, headers
GOOD_HEADERS = [("event_type", b"OrderPlaced"), ("schema_version", b"1"), ("content_type", b"application/json")]


def valid_event(rng: random.Random, n: int) -> contracts.EventEnvelope:
    return contracts.new_order_placed(
        customer_id=rng.choice(CUSTOMERS),
        command_id=f"flood-{n}",
        lines=[contracts.OrderLine(item=rng.choice(ITEMS), unit_price_pence=rng.choice(PRICES_PENCE),
                                   quantity=rng.randint(1, 20)) for _ in range(rng.randint(1, 3))],
        source="poison-flood-test",
        occurred_at=datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=n),
    )


def wire(event: contracts.EventEnvelope) -> Wire:
    record = contracts.encode(event)
    return record.key, record.value, list(record.headers)


def _body(rng: random.Random) -> dict:
    return json.loads(contracts.encode(valid_event(rng, rng.randrange(10**6))).value)


def _with(rng: random.Random, change: Callable[[dict], object], headers: list | None = None) -> Wire:
    body = _body(rng)
    change(body)
    return b"bad", json.dumps(body).encode(), GOOD_HEADERS if headers is None else headers


def _line(body: dict) -> dict:
    return body["payload"]["lines"][0]


def _set(target: dict, key: str, value: object) -> None:
    target[key] = value


# Each maker returns one record that is not a valid event of a known type and version.
MALFORMED: dict[str, Callable[[random.Random], Wire]] = {
    "random bytes": lambda rng: (None, rng.randbytes(rng.randint(1, 3000)), []),
    "truncated JSON": lambda rng: (lambda v: (b"cut", v[: rng.randint(1, len(v) - 1)], GOOD_HEADERS))(
        contracts.encode(valid_event(rng, 0)).value),
    "tombstone": lambda rng: (b"gone", None, []),
    "not an object": lambda rng: (None, rng.choice([b"[]", b"null", b"42", b'"OrderPlaced"', b"{}"]), GOOD_HEADERS),
    "not UTF-8": lambda rng: (None, b'{"event_type": "\xff\xfe"}', []),
    "price as float": lambda rng: _with(rng, lambda b: _set(_line(b), "unit_price_pence", 4.99)),
    "quantity as text": lambda rng: _with(rng, lambda b: _set(_line(b), "quantity", "2")),
    "quantity as bool": lambda rng: _with(rng, lambda b: _set(_line(b), "quantity", True)),
    "customer as number": lambda rng: _with(rng, lambda b: _set(b["payload"], "customer_id", 42)),
    "lines as object": lambda rng: _with(rng, lambda b: _set(b["payload"], "lines", {"item": "Tea"})),
    "no lines": lambda rng: _with(rng, lambda b: _set(b["payload"], "lines", [])),
    "zero quantity": lambda rng: _with(rng, lambda b: _set(_line(b), "quantity", 0)),
    "negative price": lambda rng: _with(rng, lambda b: _set(_line(b), "unit_price_pence", -1)),
    "bad event id": lambda rng: _with(rng, lambda b: _set(b, "event_id", "not-a-uuid")),
    "naive time": lambda rng: _with(rng, lambda b: _set(b, "occurred_at", "2025-01-01T00:00:00")),
    "time beyond UTC": lambda rng: _with(rng, lambda b: _set(b, "occurred_at", "9999-12-31T23:59:59-14:00")),
    "extra field": lambda rng: _with(rng, lambda b: _set(b["payload"], "discount", 10)),
    "missing payload": lambda rng: _with(rng, lambda b: b.pop("payload")),
    "unknown type in headers": lambda rng: _with(rng, lambda b: _set(b, "event_type", "OrderCancelled"), [
        ("event_type", b"OrderCancelled"), ("schema_version", b"1")]),
    "unknown type in body": lambda rng: _with(rng, lambda b: _set(b, "event_type", "OrderRefunded"), []),
    "unknown version": lambda rng: _with(rng, lambda b: _set(b, "schema_version", 2), [
        ("event_type", b"OrderPlaced"), ("schema_version", b"2")]),
    "unknown version in headers only": lambda rng: _with(rng, lambda b: None, [("event_type", b"OrderPlaced"),
                                                                       ("schema_version", b"7")]),
    "non-ASCII header": lambda rng: _with(rng, lambda b: None, [("event_type", "Ordér".encode())]),
}
HUGE: dict[str, Callable[[random.Random, int], Wire]] = {
    "huge random bytes": lambda rng, size: (None, rng.randbytes(size), []),
    "huge item name": lambda rng, size: _huge_item(rng, size),
    "huge JSON array": lambda rng, size: (b"big", (b"[" + b"1," * ((size - 3) // 2) + b"1]").ljust(size), GOOD_HEADERS),
}


def _huge_item(rng: random.Random, size: int) -> Wire:
    key, value, headers = _with(rng, lambda b: _set(_line(b), "item", ""))
    padding = size - len(value)
    return key, value.replace(b'"item": ""', b'"item": "' + b"x" * padding + b'"', 1), headers


def build_flood(valid: int, malformed: int, seed: int) -> tuple[list[Wire], list[bool], list[contracts.EventEnvelope]]:
    """The records in log order, whether each is valid, and the valid events."""
    rng = random.Random(seed)
    events = [valid_event(rng, n) for n in range(valid)]
    bad: list[Wire] = []
    for size in HUGE_SIZES * max(1, malformed // 200):
        bad.append(rng.choice(list(HUGE.values()))(rng, size))
    kinds = list(MALFORMED.values())
    while len(bad) < malformed:
        bad.append(kinds[len(bad) % len(kinds)](rng))
    tagged = [(wire(e), True) for e in events] + [(record, False) for record in bad]
    rng.shuffle(tagged)
    return [record for record, _ in tagged], [ok for _, ok in tagged], events


async def produce(client_kwargs: dict, topic: str, records: list[Wire]) -> list[tuple[int, int]]:
    producer = AIOKafkaProducer(**client_kwargs, enable_idempotence=True, linger_ms=5,
                                max_request_size=BROKER_RECORD_LIMIT)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key, headers=headers) for key, value, headers in records]
        return [(m.partition, m.offset) for m in await asyncio.gather(*futures)]
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    ("valid", "malformed"),
    [pytest.param(1000, 100, id="short"), pytest.param(10_000, 1000, id="full", marks=pytest.mark.slow)],
)
def test_a_flood_of_malformed_records_is_quarantined_and_every_valid_event_projected(
    topic_ready: Settings, tmp_path: Path, valid: int, malformed: int, report
) -> None:
    settings = topic_ready
    records, is_valid, events = build_flood(valid, malformed, seed=valid)
    assert max(len(value or b"") for _, value, _ in records) >= HUGE_SIZES[-1]
    service = QueryService(tmp_path / "readmodel.db", settings.kafka_client_kwargs(), settings.topic)
    assert service.start()
    try:
        positions = asyncio.run(produce(settings.kafka_client_kwargs(), settings.topic, records))
        assert service.catch_up(CATCH_UP_S), f"the view did not catch up: {service.projector_error}"
        summary = service.summary()
        quarantined = service.quarantined(limit=malformed + 10)
        rows = service.items()
        assert service.is_projecting and service.projector_error is None
    finally:
        service.close()

    bad_positions = {pos for pos, ok in zip(positions, is_valid) if not ok}
    assert {(q.partition, q.offset) for q in quarantined} == bad_positions
    assert all(q.reason.strip() for q in quarantined)
    assert (summary.events_applied, summary.quarantined) == (valid, malformed)
    assert summary.lag is not None and summary.lag.total == 0
    assert view_totals(rows) == expected_view(events)
    reasons = {q.reason.split(":")[0] for q in quarantined}
    report(f"{valid} valid + {malformed} malformed records (largest {max(len(v or b'') for _, v, _ in records):,} "
           f"bytes); {len(reasons)} distinct quarantine reasons")
