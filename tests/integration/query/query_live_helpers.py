"""Helpers of the read side's broker tests: producing events, comparing views. (Imported by a unique name.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from aiokafka import AIOKafkaProducer

from desktop_app import contracts
from support.order_stream import order_event
from desktop_app.query.service import QueryService
from desktop_app.settings import Settings

WAIT_S = 30.0  # bound of every wait on the projector (never hit when things work)

Wire = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]  # (key, value, headers)


def order(customer: str, *lines: tuple[str, int, int], at: datetime | None = None) -> contracts.EventEnvelope:
    """An OrderPlaced event; lines are (item, unit_price_pence, quantity)."""
    return order_event(customer, *lines, at=at, source="integration-test")


def wire(event: contracts.EventEnvelope) -> Wire:
    record = contracts.encode(event)
    return record.key, record.value, record.headers


async def produce_async(
    client_kwargs: dict, topic: str, records: Iterable[Wire], partition: int | None = None
) -> list[tuple[int, int]]:
    """Send records with one idempotent producer, gathering the send futures; (partition, offset) each."""
    producer = AIOKafkaProducer(**client_kwargs, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=list(headers), partition=partition)
            for key, value, headers in records
        ]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(metadata.partition, metadata.offset) for metadata in sent]


def produce(settings: Settings, records: Iterable[Wire], partition: int | None = None) -> list[tuple[int, int]]:
    return asyncio.run(produce_async(settings.kafka_client_kwargs(), settings.topic, list(records), partition))


def produce_events(settings: Settings, events: Iterable[contracts.EventEnvelope]) -> list[tuple[int, int]]:
    return produce(settings, [wire(e) for e in events])


def snapshot(service: QueryService) -> list[tuple]:
    """The whole view as plain tuples, for comparing read models."""
    return [
        (r.customer_id, r.item, r.unit_price_pence, r.band.value, r.quantity, r.orders, r.first_ordered, r.last_ordered)
        for r in service.items()
    ]


def wait_for(condition: Callable[[], bool], timeout: float = WAIT_S, interval: float = 0.01) -> bool:
    """Poll `condition` until it holds or `timeout` passes; its final value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def interrupt_when(argv: list[str], ready: Callable[[], bool], timeout: float = 180.0) -> tuple[int, str, str]:
    """Run the CLI `argv` and send it SIGINT (Ctrl-C) once `ready()` holds; (exit code, stdout, stderr)."""
    cli = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert wait_for(lambda: ready() or cli.poll() is not None, timeout, 0.002)
        assert cli.poll() is None, "the CLI finished before it could be interrupted"
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    return cli.returncode, out, err
