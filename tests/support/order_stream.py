"""Orders for tests: events by hand, and for the fault tests many customers, items and prices across every band, reproducible by seed."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from desktop_app import contracts
from desktop_app.command.model import LineInput, PlaceOrder

CUSTOMERS = [f"customer-{n:02d}" for n in range(12)]
ITEMS = ["Tea", "Mug", "Kettle", "Lamp", "Chair", "Desk", "Pen", "Notebook", "Rug", "Clock"]
PRICES_PENCE = [1, 99, 499, 500, 501, 1250, 4999, 5000, 5001, 12_000, 99_999]  # both sides of each band edge


def unique_topic(prefix: str = "orders") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def pounds(pence: int) -> str:
    """Pence as the price a person types: "4.99"."""
    return f"{pence // 100}.{pence % 100:02d}"


def typed_lines(fields: dict[str, Any]) -> list[tuple[str, int, int]]:
    """An order's lines as typed in `order_fields`, as (item, unit price pence, quantity): the inverse of pounds."""
    lines = []
    for item, price, quantity in fields["lines"]:
        whole, _, fraction = price.partition(".")
        lines.append((item, int(whole) * 100 + int(fraction.ljust(2, "0")), int(quantity)))
    return lines


def typed_view(orders: Iterable[dict[str, Any]]) -> dict[tuple[str, str, int], tuple[int, int]]:
    """(customer, item, price) -> (total quantity, number of orders) of these orders as typed."""
    quantity: dict[tuple[str, str, int], int] = {}
    counted: dict[tuple[str, str, int], int] = {}
    for fields in orders:
        keys = set()
        for item, price, count in typed_lines(fields):
            key = (fields["customer"], item, price)
            quantity[key] = quantity.get(key, 0) + count
            keys.add(key)
        for key in keys:
            counted[key] = counted.get(key, 0) + 1
    return {key: (quantity[key], counted[key]) for key in quantity}


def order_fields(rng: random.Random, command_id: str, *, unique_item: bool = False) -> dict[str, Any]:
    """One order as typed: customer, command id and 1-3 lines of (item, price, quantity) text.

    With unique_item, the first line's item carries the command id, so the order has its own view row.
    """
    lines = []
    for number in range(rng.randint(1, 3)):
        item = rng.choice(ITEMS)
        if unique_item and number == 0:
            item = f"{item} {command_id}"
        lines.append([item, pounds(rng.choice(PRICES_PENCE)), str(rng.randint(1, 20))])
    return {"customer": rng.choice(CUSTOMERS), "command_id": command_id, "lines": lines}


def place_order_command(fields: dict[str, Any]) -> PlaceOrder:
    return PlaceOrder(
        fields["customer"],
        tuple(LineInput(item, price, quantity) for item, price, quantity in fields["lines"]),
        fields["command_id"],
    )


def order_event(customer: str, *lines: tuple[str, int, int], at: datetime | None = None,
                source: str = "test") -> contracts.EventEnvelope:
    """An OrderPlaced event; lines are (item, unit_price_pence, quantity)."""
    return contracts.new_order_placed(
        customer_id=customer,
        command_id=f"cmd-{customer}",
        lines=[contracts.OrderLine(item=i, unit_price_pence=p, quantity=q) for i, p, q in lines],
        source=source,
        occurred_at=at or datetime(2025, 1, 1, tzinfo=timezone.utc),
    )


def cancel_event(placed: contracts.EventEnvelope, *, reason: str = "", at: datetime | None = None,
                 customer: str | None = None, source: str = "test") -> contracts.CancelEnvelope:
    """The OrderCancelled of a placed order (or, with `customer`, one naming another customer)."""
    return contracts.new_order_cancelled(
        order_id=placed.payload.order_id,
        customer_id=customer or placed.payload.customer_id,
        command_id=f"cancel-{placed.payload.order_id}",
        reason=reason,
        source=source,
        occurred_at=at or datetime(2025, 1, 2, tzinfo=timezone.utc),
    )


def amendment_events(placed: contracts.EventEnvelope, *lines: tuple[str, int, int], at: datetime | None = None,
                     source: str = "test") -> tuple[contracts.CancelEnvelope, contracts.EventEnvelope]:
    """An amendment of a placed order, as the outbox writes it: its cancellation, then the order replacing it."""
    when = at or datetime(2025, 1, 2, tzinfo=timezone.utc)
    cancel = cancel_event(placed, reason="amended", at=when, source=source)
    replacement = contracts.new_order_placed(
        customer_id=placed.payload.customer_id,
        command_id=cancel.payload.command_id,
        lines=[contracts.OrderLine(item=i, unit_price_pence=p, quantity=q) for i, p, q in lines],
        source=source,
        occurred_at=when,
        replaces=placed.payload.order_id,
    )
    return cancel, replacement
