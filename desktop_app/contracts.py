"""The published language between the command side and the query side.

The event envelopes, OrderPlaced v1 and OrderCancelled v1, and their wire encoding (JSON value,
customer-id key, headers). This is the only module that both `command/` and `query/` import.

Two event types, both keyed by the customer id, so a cancellation lands on the same partition as the
order it cancels, after it:
- OrderPlaced v1: an order and its lines. `replaces` (optional, absent from a plain order's JSON, so
  the bytes of orders placed before it existed are unchanged) names the order an amendment replaces;
  the amendment's OrderCancelled of that order comes right before it, from the same outbox transaction.
- OrderCancelled v1: the order id, its customer, the command id and a free-text reason (at most
  MAX_REASON characters).
An unknown event type or schema version is never guessed at: `decode` refuses it with that reason.

Numbers are exact: every integer field refuses booleans and floats (`true`, `1.0`), and `occurred_at` is
an ISO 8601 time with an offset, never a bare number of seconds.

Copies of one event id. The log may hold an event id more than once, and the view must be a function of
the log, not of the order in which a reader happens to interleave its partitions:
- The copy at the lowest (partition, offset) is the event. The key is the customer id, so the relay's
  at-least-once re-send of an event lands on the same partition as the original, after it: the original
  is the first copy in that partition's (total) order and a re-send never displaces it.
- Another copy with the same content is a re-send and counts once. "Same content" means the same decoded
  event (`content_digest`): the same fields and values, whatever the JSON formatting, key order or time
  zone notation; headers are not content. This also covers a re-send that a change of the partition count
  sent to another partition.
- Another copy with different content is a reused id: it is quarantined, with a reason naming the copy
  that counts (`reused_id_reason`). Across partitions, the lower partition counts even when it is read
  later: a reader that already counted the higher copy takes it back out of the view.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    Strict,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

ORDER_PLACED = "OrderPlaced"
ORDER_CANCELLED = "OrderCancelled"
SCHEMA_VERSION = 1
KNOWN_EVENTS: dict[str, set[int]] = {ORDER_PLACED: {SCHEMA_VERSION}, ORDER_CANCELLED: {SCHEMA_VERSION}}

MAX_PRICE_PENCE = 100_000_000  # £1,000,000.00
MAX_QUANTITY = 10_000
MAX_LINES = 100
MAX_CUSTOMER_ID = 64
MAX_ITEM = 120
MAX_REASON = 200
MAX_COMMAND_ID = 128

HEADER_EVENT_TYPE = "event_type"
HEADER_SCHEMA_VERSION = "schema_version"
HEADER_CONTENT_TYPE = "content_type"

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

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
    command_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_COMMAND_ID)]
    lines: Annotated[tuple[OrderLine, ...], Field(min_length=1, max_length=MAX_LINES)]
    replaces: uuid.UUID | None = None  # the order an amendment replaces

    @model_serializer(mode="wrap")
    def _without_absent_replaces(self, handler: Any) -> dict[str, Any]:
        # a plain order's JSON stays what it was before amendments existed (same bytes, same digest)
        data = handler(self)
        if data.get("replaces") is None:
            data.pop("replaces", None)
        return data

    @property
    def total_pence(self) -> int:
        return sum(line.unit_price_pence * line.quantity for line in self.lines)


class OrderCancelledV1(BaseModel):
    model_config = _frozen

    order_id: uuid.UUID
    customer_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_CUSTOMER_ID)]
    command_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_COMMAND_ID)]
    reason: Annotated[StrictStr, Field(max_length=MAX_REASON)] = ""


class _Envelope(BaseModel):
    """What every event has: its id, version, time and source."""

    model_config = _frozen

    event_id: uuid.UUID
    event_type: str  # each event's own Literal, below (declared here to keep the JSON's field order)
    schema_version: Literal[1]
    occurred_at: Annotated[AwareDatetime, Strict(False)]  # text only: see _time_text_not_seconds
    source: Annotated[StrictStr, Field(max_length=256)]
    payload: BaseModel

    @field_validator("schema_version", mode="before")
    @classmethod
    def _integer_version(cls, value: object) -> object:
        # Literal[1] alone takes `true` and `1.0` (they equal 1 in Python)
        if isinstance(value, (bool, float)):
            raise PydanticCustomError("int_type", "Input should be an integer, not {kind}",
                                      {"kind": type(value).__name__})
        return value

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _time_text_not_seconds(cls, value: object) -> object:
        # Strict mode reads a numeric string as Unix seconds, and a before-validator would turn strict JSON
        # parsing into strict Python parsing, which refuses all text: so the field is lax, and this lets
        # through only what strict JSON would parse as a time, minus the numbers.
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str) or _NUMBER.fullmatch(value.strip()):
            raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 time with an offset")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _representable_in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("occurred_at is out of range in UTC") from None


class EventEnvelope(_Envelope):
    """One immutable fact in the log: an order was placed."""

    event_type: Literal["OrderPlaced"]
    payload: OrderPlacedV1


class CancelEnvelope(_Envelope):
    """One immutable fact in the log: an order was cancelled."""

    event_type: Literal["OrderCancelled"]
    payload: OrderCancelledV1


Event = Union[EventEnvelope, CancelEnvelope]
_EVENT = TypeAdapter(Annotated[Event, Field(discriminator="event_type")])


def event_json(event: Event) -> bytes:
    """The event's JSON as the wire and the outbox carry it (fields in declared order)."""
    return event.model_dump_json().encode("utf-8")


def parse_event_json(data: bytes | str) -> Event:
    """An event from JSON this app wrote (the outbox); `decode` is the reader for records off the wire."""
    return _EVENT.validate_json(data)


def _new_fact(event_type: str, source: str, occurred_at: datetime | None) -> dict[str, Any]:
    """The envelope fields of a new event: a fresh id, this version, now (unless given)."""
    return {"event_id": uuid.uuid4(), "event_type": event_type, "schema_version": SCHEMA_VERSION,
            "occurred_at": occurred_at or datetime.now(timezone.utc), "source": source}


def new_order_placed(
    *, customer_id: str, command_id: str, lines: list[OrderLine] | tuple[OrderLine, ...], source: str,
    order_id: uuid.UUID | None = None, occurred_at: datetime | None = None, replaces: uuid.UUID | None = None,
) -> EventEnvelope:
    return EventEnvelope(
        **_new_fact(ORDER_PLACED, source, occurred_at),
        payload=OrderPlacedV1(
            order_id=order_id or uuid.uuid4(),
            customer_id=customer_id,
            command_id=command_id,
            lines=tuple(lines),
            replaces=replaces,
        ),
    )


def new_order_cancelled(
    *, order_id: uuid.UUID, customer_id: str, command_id: str, reason: str, source: str,
    occurred_at: datetime | None = None,
) -> CancelEnvelope:
    return CancelEnvelope(
        **_new_fact(ORDER_CANCELLED, source, occurred_at),
        payload=OrderCancelledV1(order_id=order_id, customer_id=customer_id, command_id=command_id, reason=reason),
    )


def content_digest(event: Event) -> bytes:
    """16 bytes that are equal for two copies exactly when they are the same event (see the module doc).

    Taken over the canonical JSON of the decoded event (fields in declared order, occurred_at in UTC).
    """
    return hashlib.blake2b(event_json(event), digest_size=16).digest()


def reused_id_reason(event_id: uuid.UUID, partition: int, offset: int) -> str:
    """Why a copy of an event id with different content is quarantined: names the copy that counts."""
    return f"event id {event_id} reused: differs from the copy at partition {partition} offset {offset}, which counts"


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What goes on the wire: key, value and headers."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def event_key(customer_id: str) -> bytes:
    """The record key: the customer id, so all of a customer's events share a partition, in order."""
    return customer_id.encode("utf-8")


def headers_of(event_type: str, schema_version: int = SCHEMA_VERSION) -> tuple[tuple[str, bytes], ...]:
    """The record headers of an event of this type and version: the one place they are written."""
    return (
        (HEADER_EVENT_TYPE, event_type.encode("ascii")),
        (HEADER_SCHEMA_VERSION, str(schema_version).encode("ascii")),
        (HEADER_CONTENT_TYPE, b"application/json"),
    )


def encode(event: Event) -> KafkaRecord:
    return KafkaRecord(
        key=event_key(event.payload.customer_id),
        value=event_json(event),
        headers=headers_of(event.event_type, event.schema_version),
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


def decode(value: bytes | None, headers: object = ()) -> Event:
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
        event = _EVENT.validate_json(text)
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
    if kind == "union_tag_invalid":
        return f"unknown event type {_input_tag(first)!r}"
    if kind == "union_tag_not_found":
        return "contract violation at event_type: Field required"
    tag, _, rest = where.partition(".")
    if tag in KNOWN_EVENTS:  # the discriminated union puts the event type first in the location
        where = rest or "record"
    if where == "schema_version" and kind == "literal_error":
        return f"unknown schema version {first.get('input')!r}"
    if where == "record" and kind == "model_attributes_type":
        return "contract violation at record: Input should be an object"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"contract violation at {where}: {first.get('msg', kind)}{more}"


def _input_tag(error: Any) -> object:
    ctx = error.get("ctx") or {}
    return ctx.get("tag", error.get("input"))
