"""Keeps the form's receipt up to date: accepted, then sent (Kafka acknowledged it), then visible here.

Placing, cancelling and amending all end in a receipt followed the same way; only the latest is shown.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from desktop_app.ui.order_form import OrderForm
from desktop_app.ui.receipt_text import (
    ACCEPTED, SENT, SENT_VIEW_BEHIND, VISIBLE, PlacedOrder, receipt_details, receipt_text,
)

log = logging.getLogger(__name__)

PUBLISH_WAIT_S = 24 * 3600.0
VISIBLE_WAIT_S = 120.0


class ReceiptFollower:
    def __init__(self, form: OrderForm, command: Any, query: Any) -> None:
        self.form = form
        self.command = command
        self.query = query
        self.latest_command_id: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def follow(self, order: PlacedOrder, receipt: Any) -> None:
        """Show `receipt` as accepted, then as it gets further (on the running qasync loop)."""
        if self._stopped:  # the window closed while the command was being accepted: nothing to show it in
            return
        self.latest_command_id = receipt.command_id
        self._show(order, receipt, ACCEPTED)
        task = asyncio.ensure_future(self._follow(order, receipt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        self._stopped = True
        for task in self._tasks:
            task.cancel()

    def _show(self, order: PlacedOrder, receipt: Any, state: str) -> None:
        if receipt.command_id == self.latest_command_id:
            self.form.show_receipt(receipt_text(order, state), receipt_details(receipt))

    async def _follow(self, order: PlacedOrder, receipt: Any) -> None:
        try:
            published = await self.command.wait_published(receipt.command_id, PUBLISH_WAIT_S)
            self._show(order, published, SENT)
            loop = asyncio.get_running_loop()
            visible = await loop.run_in_executor(
                None, self.query.wait_until_visible, published.partition, published.offset, VISIBLE_WAIT_S
            )
            self._show(order, published, VISIBLE if visible else SENT_VIEW_BEHIND)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the receipt stays as it was; the command is safe in the outbox
            log.exception("following receipt %s failed", receipt.command_id)
