"""What the view takes from one record: its decoded event, reduced to the facts the projector writes.

`event_facts(record)` decodes (contracts.decode) and returns PlacedFacts or CancelledFacts, or raises
contracts.MalformedRecord with the reason. Times are kept as the stored text (naive UTC, fixed width), so
comparing two texts compares the times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from desktop_app import contracts

Line = tuple[str, int, int]  # (item, unit_price_pence, quantity), as placed


class RecordLike(Protocol):
    """What the projector reads from a Kafka record (aiokafka's ConsumerRecord fits)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class PlacedFacts:
    """An OrderPlaced, as the view needs it."""

    event_id: bytes
    partition: int
    offset: int
    digest: bytes  # contracts.content_digest: same content, same digest
    order_id: str  # canonical UUID text
    customer_id: str
    occurred_at: str  # stored time text
    source: str
    lines: tuple[Line, ...]
    replaces: str | None

    @property
    def total_pence(self) -> int:
        return sum(price * quantity for _, price, quantity in self.lines)


@dataclass(frozen=True, slots=True)
class CancelledFacts:
    """An OrderCancelled, as the view needs it."""

    event_id: bytes
    partition: int
    offset: int
    digest: bytes
    order_id: str
    customer_id: str
    occurred_at: str
    source: str
    reason: str


Facts = PlacedFacts | CancelledFacts


def stored_time(value: datetime) -> str:
    """A naive UTC time as SQLAlchemy's SQLite DateTime stores it: fixed width, so text order is time order."""
    return value.isoformat(sep=" ", timespec="microseconds")


def event_facts(record: RecordLike) -> Facts:
    """Decode one record into what the view needs, or raise MalformedRecord(reason)."""
    event = contracts.decode(record.value, record.headers)
    try:
        occurred_at = stored_time(event.occurred_at.astimezone(timezone.utc).replace(tzinfo=None))
    except (OverflowError, ValueError):
        raise contracts.MalformedRecord("occurred_at out of range in UTC") from None
    payload = event.payload
    if isinstance(payload, contracts.OrderCancelledV1):
        return CancelledFacts(
            event_id=event.event_id.bytes, partition=record.partition, offset=record.offset,
            digest=contracts.content_digest(event), order_id=str(payload.order_id),
            customer_id=payload.customer_id, occurred_at=occurred_at, source=event.source, reason=payload.reason,
        )
    return PlacedFacts(
        event_id=event.event_id.bytes, partition=record.partition, offset=record.offset,
        digest=contracts.content_digest(event), order_id=str(payload.order_id),
        customer_id=payload.customer_id, occurred_at=occurred_at, source=event.source,
        lines=tuple((line.item, line.unit_price_pence, line.quantity) for line in payload.lines),
        replaces=None if payload.replaces is None else str(payload.replaces),
    )


def facts_or_reason(record: RecordLike) -> Facts | str:
    """What the view needs of a record, or the reason the projector quarantines it with: the one rule for
    the projector and for whoever shows a record as the projector judges it (the event log)."""
    try:
        return event_facts(record)
    except contracts.MalformedRecord as exc:
        return exc.reason
    except Exception as exc:  # noqa: BLE001 - a record must never stop the projector
        return f"undecodable: {exc!r}"


def row_quantities(lines: Sequence[Line]) -> dict[tuple[str, int], int]:
    """An order's lines per ordered_items row of its customer: (item, unit_price_pence) -> quantity."""
    quantities: dict[tuple[str, int], int] = {}
    for item, price, quantity in lines:
        key = (item, price)
        quantities[key] = quantities.get(key, 0) + quantity
    return quantities
