"""The published language between the command side and the query side.

The event envelope, OrderPlaced v1, and their wire encoding (JSON value, customer-id key, headers).
This is the only module that both `command/` and `query/` import.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

ORDER_PLACED = "OrderPlaced"
SCHEMA_VERSION = 1
KNOWN_EVENTS: dict[str, set[int]] = {ORDER_PLACED: {SCHEMA_VERSION}}

MAX_PRICE_PENCE = 100_000_000  # £1,000,000.00
MAX_QUANTITY = 10_000
MAX_LINES = 100
MAX_CUSTOMER_ID = 64
MAX_ITEM = 120

HEADER_EVENT_TYPE = "event_type"
HEADER_SCHEMA_VERSION = "schema_version"
HEADER_CONTENT_TYPE = "content_type"

_frozen = ConfigDict(frozen=True, extra="forbid", strict=True)


class OrderLine(BaseModel):
    model_config = _frozen

    item: Annotated[StrictStr, Field(min_length=1, max_length=MAX_ITEM)]
    unit_price_pence: Annotated[StrictInt, Field(gt=0, le=MAX_PRICE_PENCE)]
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class OrderPlacedV1(BaseModel):
    model_config = _frozen

    order_id: uuid.UUID
    customer_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_CUSTOMER_ID)]
    command_id: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    lines: Annotated[tuple[OrderLine, ...], Field(min_length=1, max_length=MAX_LINES)]


class EventEnvelope(BaseModel):
    """One immutable fact in the log."""

    model_config = _frozen

    event_id: uuid.UUID
    event_type: Literal["OrderPlaced"]
    schema_version: Literal[1]
    occurred_at: AwareDatetime
    source: Annotated[StrictStr, Field(max_length=256)]
    payload: OrderPlacedV1

    @field_validator("occurred_at")
    @classmethod
    def _representable_in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("occurred_at is out of range in UTC") from None


def new_order_placed(
    *, customer_id: str, command_id: str, lines: list[OrderLine] | tuple[OrderLine, ...], source: str,
    order_id: uuid.UUID | None = None, occurred_at: datetime | None = None,
) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=ORDER_PLACED,
        schema_version=SCHEMA_VERSION,
        occurred_at=occurred_at or datetime.now(timezone.utc),
        source=source,
        payload=OrderPlacedV1(
            order_id=order_id or uuid.uuid4(),
            customer_id=customer_id,
            command_id=command_id,
            lines=tuple(lines),
        ),
    )


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What goes on the wire: key, value and headers."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def encode(event: EventEnvelope) -> KafkaRecord:
    return KafkaRecord(
        key=event.payload.customer_id.encode("utf-8"),
        value=event.model_dump_json().encode("utf-8"),
        headers=(
            (HEADER_EVENT_TYPE, event.event_type.encode("ascii")),
            (HEADER_SCHEMA_VERSION, str(event.schema_version).encode("ascii")),
            (HEADER_CONTENT_TYPE, b"application/json"),
        ),
    )


class MalformedRecord(ValueError):
    """A record that is not a valid event of a known type and version. `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _header(headers: object, name: str) -> str | None:
    for key, value in headers or ():  # type: ignore[union-attr]
        if key == name:
            try:
                return bytes(value).decode("ascii") if value is not None else None
            except UnicodeDecodeError:
                raise MalformedRecord(f"header {name!r} is not ASCII") from None
    return None


def decode(value: bytes | None, headers: object = ()) -> EventEnvelope:
    """Turn one record's value (and headers) into an event, or raise MalformedRecord."""
    if value is None:
        raise MalformedRecord("empty record (tombstone)")
    event_type = _header(headers, HEADER_EVENT_TYPE)
    version = _header(headers, HEADER_SCHEMA_VERSION)
    if event_type is not None and event_type not in KNOWN_EVENTS:
        raise MalformedRecord(f"unknown event type {event_type!r}")
    if version is not None and event_type in KNOWN_EVENTS and version not in {
        str(v) for v in KNOWN_EVENTS[event_type]
    }:
        raise MalformedRecord(f"unknown schema version {version!r} of {event_type}")
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRecord("value is not UTF-8") from None
    try:
        event = EventEnvelope.model_validate_json(text)
    except ValidationError as exc:
        raise MalformedRecord(_describe(exc)) from None
    if event_type is not None and event_type != event.event_type:
        raise MalformedRecord(f"header event type {event_type!r} differs from body")
    if version is not None and version != str(event.schema_version):
        raise MalformedRecord(f"header schema version {version!r} differs from body")
    return event


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    kind = first.get("type", "")
    where = ".".join(str(p) for p in first.get("loc", ())) or "record"
    if kind == "json_invalid":
        return "invalid JSON"
    if where == "event_type" and kind == "literal_error":
        return f"unknown event type {first.get('input')!r}"
    if where == "schema_version" and kind == "literal_error":
        return f"unknown schema version {first.get('input')!r}"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"contract violation at {where}: {first.get('msg', kind)}{more}"
