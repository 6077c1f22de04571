"""The write side: validate PlaceOrder, CancelOrder and AmendOrder, commit their events to the outbox, relay
them to Kafka. No Qt.

This package root imports no aiokafka, so the UI can use the command model and receipts; the service
itself is `desktop_app.command.service.CommandService`.
"""

from desktop_app.command.model import InvalidOrder, InvalidOrders, LineInput, PlaceOrder, Problem, validate
from desktop_app.command.order_changes import AmendOrder, CancelOrder, validate_change
from desktop_app.command.order_lookup import KnownOrder, LookupUnavailable, OrderLookup
from desktop_app.command.outbox import CommandIdReused, Receipt

__all__ = [
    "AmendOrder", "CancelOrder", "CommandIdReused", "InvalidOrder", "InvalidOrders", "KnownOrder", "LineInput",
    "LookupUnavailable", "OrderLookup", "PlaceOrder", "Problem", "Receipt", "validate", "validate_change",
]
