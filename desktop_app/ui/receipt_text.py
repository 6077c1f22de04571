"""The receipt a clerk reads after placing an order: who, how many lines, the total in £, how far it got.

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


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """What was accepted: the accepted event's customer and lines, and their total in integer pence."""

    customer_id: str
    line_count: int
    total_pence: int

    @classmethod
    def of(cls, order: ValidOrder) -> PlacedOrder:
        total = sum(line.unit_price_pence * line.quantity for line in order.lines)
        return cls(customer_id=order.customer_id, line_count=len(order.lines), total_pence=total)


def receipt_text(order: PlacedOrder, state: str) -> str:
    lines = "1 line" if order.line_count == 1 else f"{order.line_count:,} lines"
    return (f"Order for <b>{escape(order.customer_id)}</b>: {lines}, total {format_pounds(order.total_pence)}"
            f" — <b>{escape(state)}</b>")


def receipt_details(receipt: Any) -> str:
    """For support staff (the receipt's tooltip): the order id and where the event is in Kafka."""
    where = ("not yet sent to Kafka" if receipt.partition is None
             else f"Kafka partition {receipt.partition}, offset {receipt.offset}")
    return f"Order {receipt.order_id}\nCommand {receipt.command_id}\n{where}"
