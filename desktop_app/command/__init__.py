"""The write side: validate PlaceOrder, commit its event to the outbox, relay it to Kafka. No Qt.

This package root imports no aiokafka, so the UI can use the command model and receipts; the service
itself is `desktop_app.command.service.CommandService`.
"""

from desktop_app.command.model import InvalidOrder, InvalidOrders, LineInput, PlaceOrder, Problem, validate
from desktop_app.command.outbox import CommandIdReused, Receipt

__all__ = [
    "CommandIdReused", "InvalidOrder", "InvalidOrders", "LineInput", "PlaceOrder", "Problem", "Receipt", "validate",
]
