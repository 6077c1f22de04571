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
an ISO 8601 (RFC 3339) time with an offset, never a bare number of seconds; a decoded event's time is in UTC.

The events are msgspec Structs, decoded and validated in one C pass (`decode`). A Struct does not check
its values when built in Python: `new_order_placed` and `new_order_cancelled` do, by reading the event
back as `decode` would, so nothing the contract refuses reaches the outbox. Whoever changes an event's
field builds it with `msgspec.structs.replace`, unchecked: tests do, to forge copies.

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
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, ClassVar, Literal, TypeVar

import msgspec
from msgspec import Meta

ORDER_PLACED = "OrderPlaced"
ORDER_CANCELLED = "OrderCancelled"
SCHEMA_VERSION = 1
KNOWN_EVENTS: dict[str, set[int]] = {ORDER_PLACED: {SCHEMA_VERSION}, ORDER_CANCELLED: {SCHEMA_VERSION}}
_KNOWN_VERSION_TEXTS = {name: {str(v) for v in versions} for name, versions in KNOWN_EVENTS.items()}

MAX_PRICE_PENCE = 100_000_000  # £1,000,000.00
MAX_QUANTITY = 10_000
MAX_LINES = 100
MAX_CUSTOMER_ID = 64
MAX_ITEM = 120
MAX_REASON = 200
MAX_COMMAND_ID = 128
MAX_SOURCE = 256

HEADER_EVENT_TYPE = "event_type"
HEADER_SCHEMA_VERSION = "schema_version"
HEADER_CONTENT_TYPE = "content_type"
TAG_FIELD = "event_type"  # the body's field that tells the events apart

CustomerId = Annotated[str, Meta(min_length=1, max_length=MAX_CUSTOMER_ID)]
CommandId = Annotated[str, Meta(min_length=1, max_length=MAX_COMMAND_ID)]
# msgspec reads an int field from a JSON integer only: `true`, `1.0` and `"1"` are refused
PricePence = Annotated[int, Meta(gt=0, le=MAX_PRICE_PENCE)]
Quantity = Annotated[int, Meta(ge=1, le=MAX_QUANTITY)]
# RFC 3339 text with an offset ("Z" or "+01:00"); a naive time or a number is refused
AwareTime = Annotated[datetime, Meta(tz=True)]


# gc=False: the garbage collector neither tracks nor walks the events (msgspec allows it for Structs that can
# never be part of a reference cycle: these are frozen and hold only text, numbers, ids, times and tuples of
# lines). Building and decoding them allocates many objects; tracked, they made the collector run and walk a
# large heap (an import of 50k orders, a replay): 8-10 µs of the command path's ~25 per order to build them.
class OrderLine(msgspec.Struct, frozen=True, gc=False, kw_only=True, forbid_unknown_fields=True):
    item: Annotated[str, Meta(min_length=1, max_length=MAX_ITEM)]
    unit_price_pence: PricePence
    quantity: Quantity


# omit_defaults: `replaces` (its only default) is left out of a plain order's JSON, so that JSON is what it was
# before amendments existed (same bytes, same digest)
class OrderPlacedV1(msgspec.Struct, frozen=True, gc=False, kw_only=True, forbid_unknown_fields=True,
                    omit_defaults=True):
    order_id: uuid.UUID
    customer_id: CustomerId
    command_id: CommandId
    lines: Annotated[tuple[OrderLine, ...], Meta(min_length=1, max_length=MAX_LINES)]
    replaces: uuid.UUID | None = None  # the order an amendment replaces

    @property
    def total_pence(self) -> int:
        return sum(line.unit_price_pence * line.quantity for line in self.lines)


class OrderCancelledV1(msgspec.Struct, frozen=True, gc=False, kw_only=True, forbid_unknown_fields=True):
    order_id: uuid.UUID
    customer_id: CustomerId
    command_id: CommandId
    reason: Annotated[str, Meta(max_length=MAX_REASON)] = ""


class _Envelope(msgspec.Struct, frozen=True, gc=False, kw_only=True, forbid_unknown_fields=True, tag_field=TAG_FIELD):
    """What every event has: its id, version, time and source. `event_type` is the union's tag."""

    event_id: uuid.UUID
    schema_version: Literal[1]
    occurred_at: AwareTime
    source: Annotated[str, Meta(max_length=MAX_SOURCE)]


class EventEnvelope(_Envelope, tag=ORDER_PLACED):
    """One immutable fact in the log: an order was placed."""

    event_type: ClassVar[str] = ORDER_PLACED
    payload: OrderPlacedV1


class CancelEnvelope(_Envelope, tag=ORDER_CANCELLED):
    """One immutable fact in the log: an order was cancelled."""

    event_type: ClassVar[str] = ORDER_CANCELLED
    payload: OrderCancelledV1


Event = EventEnvelope | CancelEnvelope
_E = TypeVar("_E", EventEnvelope, CancelEnvelope)
_DECODER = msgspec.json.Decoder(Event)
_ENCODER = msgspec.json.Encoder()


def _in_utc(moment: datetime) -> datetime:
    """The time in UTC (OverflowError if it is not representable there). A naive time stays naive, for the
    decoder to refuse: astimezone would take it for local time."""
    if moment.tzinfo is timezone.utc or moment.utcoffset() is None:
        return moment
    return moment.astimezone(timezone.utc)


def event_json(event: Event) -> bytes:
    """The event's JSON as the wire and the outbox carry it: fields in declared order, the time in UTC.

    msgspec writes a union's tag first; the events written before it (by pydantic) have `event_type` second,
    and their bytes and digests must not change, so the envelope is laid out here in that order.
    """
    return _ENCODER.encode({
        "event_id": event.event_id, TAG_FIELD: event.event_type, "schema_version": event.schema_version,
        "occurred_at": _in_utc(event.occurred_at), "source": event.source, "payload": event.payload,
    })


def _read(data: bytes | str) -> Event:
    """Decode and validate (msgspec errors propagate); the time in UTC, as the contract keeps it."""
    event = _DECODER.decode(data)
    if event.occurred_at.tzinfo is not timezone.utc:
        event = msgspec.structs.replace(event, occurred_at=event.occurred_at.astimezone(timezone.utc))
    return event


def parse_event_json(data: bytes | str) -> Event:
    """An event from JSON this app wrote (the outbox); `decode` is the reader for records off the wire."""
    return _read(data)


def _checked(event: _E) -> _E:
    """The event as `decode` reads it back: ValueError naming the field if the contract refuses a value."""
    try:
        return _read(event_json(event))  # type: ignore[return-value]
    except msgspec.ValidationError as exc:
        raise ValueError(f"not a valid {event.event_type} event: {_describe(exc)}") from None
    except (TypeError, ValueError, OverflowError) as exc:  # a value JSON cannot hold, a time outside UTC's range
        raise ValueError(f"not a valid {event.event_type} event: {exc}") from None


def new_id() -> uuid.UUID:
    """A fresh event id (or command id): a UUID version 7 (RFC 9562), the milliseconds since 1970 in its
    first 48 bits, then 74 random bits. Ids made later sort after those made earlier, so the B-trees that
    index them (the outbox, the view's applied events) are appended to rather than written at random places,
    which costs less and less the bigger they grow. The contract asks for a UUID of any version: ids made
    before (version 4) stay as they are. Order ids stay random (version 4): clerks tell orders apart by
    their first 8 characters, which in a version 7 id change only once a minute."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 4122 / 9562 variant
    return uuid.UUID(int=value)


def new_order_placed(
    *, customer_id: str, command_id: str, lines: list[OrderLine] | tuple[OrderLine, ...], source: str,
    order_id: uuid.UUID | None = None, occurred_at: datetime | None = None, replaces: uuid.UUID | None = None,
) -> EventEnvelope:
    """A new OrderPlaced (fresh event id, now unless given). ValueError if the contract refuses a value."""
    return _checked(EventEnvelope(
        event_id=new_id(), schema_version=SCHEMA_VERSION, source=source,
        occurred_at=occurred_at or datetime.now(timezone.utc),
        payload=OrderPlacedV1(order_id=order_id or uuid.uuid4(), customer_id=customer_id, command_id=command_id,
                              lines=tuple(lines), replaces=replaces),
    ))


def new_order_cancelled(
    *, order_id: uuid.UUID, customer_id: str, command_id: str, reason: str, source: str,
    occurred_at: datetime | None = None,
) -> CancelEnvelope:
    """A new OrderCancelled (fresh event id, now unless given). ValueError if the contract refuses a value."""
    return _checked(CancelEnvelope(
        event_id=new_id(), schema_version=SCHEMA_VERSION, source=source,
        occurred_at=occurred_at or datetime.now(timezone.utc),
        payload=OrderCancelledV1(order_id=order_id, customer_id=customer_id, command_id=command_id, reason=reason),
    ))


def content_digest(event: Event) -> bytes:
    """16 bytes that are equal for two copies exactly when they are the same event (see the module doc).

    Taken over the canonical JSON of the decoded event (`event_json`: fields in declared order, occurred_at
    in UTC). The read model stores these digests, so that JSON must stay byte for byte what it has been.
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
    if event_type is not None:
        if event_type not in KNOWN_EVENTS:
            raise MalformedRecord(f"unknown event type {event_type!r}")
        if version is not None and version not in _KNOWN_VERSION_TEXTS[event_type]:
            raise MalformedRecord(f"unknown schema version {version!r} of {event_type}")
    try:
        event = _read(value)
    except msgspec.ValidationError as exc:
        raise MalformedRecord(_unless_not_utf8(value) or _describe(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises the latter for bad UTF-8 in a string
        raise MalformedRecord(_unless_not_utf8(value) or "invalid JSON") from None
    except OverflowError:
        raise MalformedRecord("contract violation at occurred_at: out of range in UTC") from None
    if event_type is not None and event_type != event.event_type:
        raise MalformedRecord(f"header event type {event_type!r} differs from body")
    if version is not None and version != str(event.schema_version):
        raise MalformedRecord(f"header schema version {version!r} differs from body")
    return event


def _unless_not_utf8(value: object) -> str | None:
    """"value is not UTF-8" if it is not, which a refusal reports first. Only looked at when decoding failed:
    a value that decodes is UTF-8 (every string in it was read as text, every key matched a field)."""
    try:
        bytes(value).decode("utf-8")  # type: ignore[call-overload]
    except UnicodeDecodeError:
        return "value is not UTF-8"
    return None


# msgspec's message, then " - at `$.payload.lines[0].quantity`" unless the problem is at the top
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD_NAMED = re.compile(r"Object (?:missing required|contains unknown) field `(?P<field>[^`]*)`")
_INDEX = re.compile(r"\[(\d+)\]")


def _describe(exc: msgspec.ValidationError) -> str:
    """The reason as "contract violation at <dotted path>: <msgspec's message>", or an unknown type/version."""
    parts = _AT.match(str(exc))
    assert parts is not None  # the pattern matches any text
    message = parts["message"]
    where = _INDEX.sub(r".\1", parts["path"] or "").lstrip(".")
    named = _FIELD_NAMED.fullmatch(message)
    if named:  # a missing or stray field: the path names the field, as for any other field
        where = f"{where}.{named['field']}".lstrip(".")
    if where == TAG_FIELD and message.startswith("Invalid value "):
        return f"unknown event type {message.removeprefix('Invalid value ')}"
    if where == "schema_version" and message.startswith("Invalid enum value "):
        return f"unknown schema version {message.removeprefix('Invalid enum value ')}"
    return f"contract violation at {where or 'record'}: {message}"
