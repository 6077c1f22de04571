"""The event contract as it was before msgspec (pydantic models), for `bench.decode`'s same-run baseline only.

A frozen copy of `desktop_app/contracts.py` at commit 07f6c28: the models, the discriminated union, `decode`
(its refusal reasons reduced to pydantic's text) and `content_digest`. The app never imports it; nothing
but the benchmark and its unit test does. Do not change it to follow the contract: it is the "before".
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from desktop_app.contracts import (
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
    KNOWN_EVENTS,
    MAX_COMMAND_ID,
    MAX_CUSTOMER_ID,
    MAX_ITEM,
    MAX_LINES,
    MAX_PRICE_PENCE,
    MAX_QUANTITY,
    MAX_REASON,
    MalformedRecord,
)

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

_frozen = ConfigDict(frozen=True, extra="forbid", strict=True)


def _header(headers: object, name: str) -> str | None:
    for key, value in headers or ():  # type: ignore[union-attr]
        if key == name:
            try:
                return bytes(value).decode("ascii") if value is not None else None
            except UnicodeDecodeError:
                raise MalformedRecord(f"header {name!r} is not ASCII") from None
    return None


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
    return event.model_dump_json().encode("utf-8")


def content_digest(event: Event) -> bytes:
    return hashlib.blake2b(event_json(event), digest_size=16).digest()


def decode(value: bytes | None, headers: object = ()) -> Event:  # as it was, but for _describe
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
        raise MalformedRecord(str(exc)) from None
    if event_type is not None and event_type != event.event_type:
        raise MalformedRecord(f"header event type {event_type!r} differs from body")
    if version is not None and version != str(event.schema_version):
        raise MalformedRecord(f"header schema version {version!r} differs from body")
    return event
