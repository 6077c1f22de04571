"""Helpers of the read side's unit tests: events and Kafka-like records. (Imported by a unique name.)"""

from __future__ import annotations

import itertools
from datetime import datetime

from desktop_app import contracts
from support.order_stream import order_event
from desktop_app.query.projector import Record

TOPIC = "orders-unit"


def order(customer: str, *lines: tuple[str, int, int], at: datetime | None = None) -> contracts.EventEnvelope:
    """An OrderPlaced event; lines are (item, unit_price_pence, quantity)."""
    return order_event(customer, *lines, at=at, source="unit-test")


class RecordFactory:
    """Kafka-like records with increasing offsets per partition."""

    def __init__(self) -> None:
        self._offsets: dict[int, itertools.count] = {}

    def _next(self, partition: int) -> int:
        return next(self._offsets.setdefault(partition, itertools.count()))

    def event(self, event: contracts.Event, partition: int = 0) -> Record:
        wire = contracts.encode(event)
        return Record(TOPIC, partition, self._next(partition), wire.value, wire.key, wire.headers)

    def raw(self, value: bytes | None, headers=(), partition: int = 0, key: bytes | None = b"k") -> Record:
        return Record(TOPIC, partition, self._next(partition), value, key, tuple(headers))
