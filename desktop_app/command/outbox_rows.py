"""The outbox's rows as the command side passes them around: receipts, pending events, acknowledgements,
what is stored under a key; and what makes two commands one (`same_command`). See `outbox`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import msgspec

from desktop_app import contracts

ReceiptStatus = Literal["accepted", "published"]


# Receipt, PendingEvent and Acknowledgement are made once per order: msgspec Structs, not dataclasses (0.15
# against 2.6 µs each; untracked by the garbage collector, they hold no containers).
class Receipt(msgspec.Struct, frozen=True, gc=False):
    """What the command side promises about one command.

    accepted: the event is durably in the outbox and will be published.
    published: the broker acknowledged it at (partition, offset), the consistency token. The offset
    is None in the rare case the broker answered a retried send as a duplicate without its offset.
    `order_id`: the order placed, or for a cancellation the order cancelled.
    """

    order_id: uuid.UUID
    command_id: str
    status: ReceiptStatus
    partition: int | None
    offset: int | None
    event_id: uuid.UUID

    def as_json(self) -> dict[str, object]:
        return {
            "order_id": str(self.order_id),
            "command_id": self.command_id,
            "status": self.status,
            "partition": self.partition,
            "offset": self.offset,
        }


class PendingEvent(msgspec.Struct, frozen=True, gc=False):
    """An accepted event not yet acknowledged by the broker.

    `event_json` is the event exactly as `contracts.encode` writes a record's value (the outbox stores
    `contracts.event_json`), so the relay sends it as it is, with `headers`; `event` parses it, for
    whoever needs the fields. `command_id` is the outbox key (see the module doc).
    """

    seq: int
    command_id: str
    event_id: uuid.UUID
    customer_id: str
    topic: str  # where it was accepted to go
    event_json: bytes
    attempted_at: float | None
    event_type: str = contracts.ORDER_PLACED

    @property
    def event(self) -> contracts.Event:
        return contracts.parse_event_json(self.event_json)

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        """One list per event type, shared: read it, do not change it (aiokafka's batches take only lists)."""
        return _HEADERS.get(self.event_type) or list(contracts.headers_of(self.event_type))


class Acknowledgement(msgspec.Struct, frozen=True, gc=False):
    seq: int
    partition: int
    offset: int | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """The event stored under an outbox key, its receipt and the topic it was accepted for."""

    event: contracts.Event
    receipt: Receipt
    topic: str


@dataclass(frozen=True, slots=True)
class OwnOrder:
    """What this outbox knows of an order: placed here (then its customer), cancelled here."""

    order_id: uuid.UUID
    placed: contracts.OrderPlacedV1 | None
    cancelled: bool
    replaced_by: uuid.UUID | None = None  # the new order of the amendment that cancelled it here


class CommandIdReused(ValueError):
    """The command id was already used for a different command (other event, customer, lines, order,
    reason or topic)."""

    def __init__(self, command_id: str) -> None:
        super().__init__(f"command id {command_id!r} was already used for a different order")
        self.command_id = command_id


def same_command(first: contracts.Event, again: contracts.Event) -> bool:
    """Whether two events say what one command says (a resubmission, not a reuse of its id).

    An OrderPlaced: the customer, lines and replaced order (its own order id is fresh each time). An
    OrderCancelled: the order cancelled, its customer and the reason.
    """
    if first.event_type != again.event_type:
        return False
    a, b = first.payload, again.payload
    if isinstance(a, contracts.OrderPlacedV1) and isinstance(b, contracts.OrderPlacedV1):
        return (a.customer_id, a.lines, a.replaces) == (b.customer_id, b.lines, b.replaces)
    return (a.order_id, a.customer_id, a.reason) == (b.order_id, b.customer_id, b.reason)  # type: ignore[union-attr]



_HEADERS = {kind: list(contracts.headers_of(kind)) for kind in (contracts.ORDER_PLACED, contracts.ORDER_CANCELLED)}
