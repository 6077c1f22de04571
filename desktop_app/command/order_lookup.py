"""The OrderLookup port: what the command side needs to know of an order it did not accept itself.

The command side checks a cancel or an amend against its own outbox first, then against this port
(see `order_changes.judge`). The port is the query side's public API, adapted in `bootstrap.py`; the
command side never opens the read model's file and imports nothing of `query/`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from desktop_app import contracts


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """An order as the log's view knows it: whose it is, whether it still stands, its lines.

    `standing` is False once it was cancelled or replaced by an amendment.
    """

    order_id: uuid.UUID
    customer_id: str
    standing: bool
    lines: tuple[contracts.OrderLine, ...]
    replaced_by: uuid.UUID | None = None  # the order an amendment put in its place


class LookupUnavailable(RuntimeError):
    """The lookup cannot tell now (the view is missing or being rebuilt); the message says why."""


class OrderLookup(Protocol):
    def known_order(self, order_id: uuid.UUID) -> KnownOrder | None:
        """The order, or None when it is unknown. Raises LookupUnavailable when it cannot tell."""
        ...
