"""The receipt a clerk reads after placing, cancelling or amending an order: who, what became of it, how
many lines, the total in £, and how far it got.

Kafka's partition and offset are for support staff: they go in the tooltip, not in the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from desktop_app.command.model import ValidOrder
from desktop_app.ui.items_tab import format_pounds

ACCEPTED = "accepted"  # safe in the outbox on this machine
SENT = "sent"  # acknowledged by Kafka
VISIBLE = "visible"  # in this desk's tabs
SENT_VIEW_BEHIND = "sent (the tabs are catching up)"

PLACED = ""  # what became of the order, as the receipt says it after the customer
CANCELLED = "cancelled"
AMENDED = "amended"


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The order a receipt is about: its customer, its lines and their total in integer pence, and what
    the command did to it (placed, cancelled, or amended: then these are the new order's lines)."""

    customer_id: str
    line_count: int
    total_pence: int
    change: str = PLACED

    @classmethod
    def of(cls, order: ValidOrder, change: str = PLACED) -> PlacedOrder:
        total = sum(line.unit_price_pence * line.quantity for line in order.lines)
        return cls(customer_id=order.customer_id, line_count=len(order.lines), total_pence=total, change=change)


def receipt_text(order: PlacedOrder, state: str) -> str:
    lines = "1 line" if order.line_count == 1 else f"{order.line_count:,} lines"
    change = f" <b>{escape(order.change)}</b>" if order.change else ""
    return (f"Order for <b>{escape(order.customer_id)}</b>{change}: {lines}, total {format_pounds(order.total_pence)}"
            f" — <b>{escape(state)}</b>")


def receipt_details(receipt: Any) -> str:
    """For support staff (the receipt's tooltip): the order id and where the event is in Kafka."""
    where = ("not yet sent to Kafka" if receipt.partition is None
             else f"Kafka partition {receipt.partition}, offset {receipt.offset}")
    return f"Order {receipt.order_id}\nCommand {receipt.command_id}\n{where}"
