"""Cancel order… and Amend order… from the Orders tab: the confirmation, the command, the receipt.

The command side judges (unknown order, already cancelled, another customer, reason too long, bad lines);
its problems are shown where the clerk is looking: in the cancel dialog, or next to the form's fields.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from desktop_app.command.model import InvalidOrder, PlaceOrder, check
from desktop_app.command.order_changes import AmendOrder, CancelOrder
from desktop_app.query.orders_view import OrderDetail, OrderRow
from desktop_app.query.pounds import pence_to_decimal
from desktop_app.query.view_health import ViewUnavailable
from desktop_app.ui.cancel_dialog import CancelDialog
from desktop_app.ui.order_form import OrderForm
from desktop_app.ui.orders_model import is_ended, short_id, status_text
from desktop_app.ui.receipt_follow import ReceiptFollower
from desktop_app.ui.receipt_text import AMENDED, CANCELLED, PlacedOrder

log = logging.getLogger(__name__)


class OrderActions:
    def __init__(self, window: QWidget, command: Any, query: Any, form: OrderForm, receipts: ReceiptFollower,
                 report: Callable[[str], None]) -> None:
        """`report`: shows a one-line message in the window (the status bar)."""
        self.window = window
        self.command = command
        self.query = query
        self.form = form
        self.receipts = receipts
        self.report = report
        self.dialog: CancelDialog | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _detail(self, order: OrderRow) -> OrderDetail | None:
        """The order as the view has it now (its lines), or None with the reason reported."""
        if is_ended(order):
            self.report(f"Order {short_id(order.order_id)} is {status_text(order)}: nothing to change")
            return None
        try:
            detail = self.query.order(order.order_id)
        except ViewUnavailable as exc:
            self.report(f"The orders cannot be read now: {exc}")
            return None
        if detail is None:
            self.report(f"Order {short_id(order.order_id)} is not in this desk's view any more")
        return detail

    # -- cancel ----------------------------------------------------------------------------------
    def cancel(self, order: OrderRow) -> None:
        """Asks first (naming the customer, the total and the lines); cancels when confirmed."""
        detail = self._detail(order)
        if detail is None:
            return
        if self.dialog is not None:
            self.dialog.close()
        dialog = CancelDialog(self.window, detail.order, detail.lines)
        dialog.confirmed.connect(lambda reason: self._run(self._cancel(dialog, reason)))
        self.dialog = dialog
        dialog.open()

    async def _cancel(self, dialog: CancelDialog, reason: str) -> None:
        order = dialog.order
        cmd = CancelOrder(order_id=str(order.order_id), reason=reason, customer_id=order.customer_id)
        try:
            receipt = await self.command.cancel_order(cmd)
        except InvalidOrder as invalid:
            dialog.show_problems(invalid.problems)
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person at the counter
            log.exception("cancelling order %s failed", order.order_id)
            dialog.show_problems([str(exc) or type(exc).__name__])
            return
        dialog.accept()
        self.receipts.follow(PlacedOrder(order.customer_id, order.line_count, order.total_pence, CANCELLED),
                             receipt)

    # -- amend -----------------------------------------------------------------------------------
    def amend(self, order: OrderRow) -> None:
        """Opens the order's lines in the form, which then amends instead of placing."""
        if self.form.has_unplaced_input() and self.form.amending != order.order_id:
            self.report("The form holds an order not placed yet: place it or clear it (Ctrl+N), then amend")
            return
        detail = self._detail(order)
        if detail is None:
            return
        lines = [(line.item, str(pence_to_decimal(line.unit_price_pence)), str(line.quantity))
                 for line in detail.lines]
        self.form.start_amend(order.order_id, order.customer_id, lines)

    async def submit_amend(self, command: PlaceOrder) -> None:
        """The form's lines as the amend of the order it holds."""
        order_id = self.form.amending
        if order_id is None:
            return
        amend = AmendOrder(order_id=str(order_id), lines=command.lines, customer_id=command.customer_id)
        problems = self.command.validate_change(amend)
        if problems:
            self.form.show_problems(problems)
            return
        try:
            receipt = await self.command.amend_order(amend)
        except InvalidOrder as invalid:
            self.form.show_problems(invalid.problems)
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person at the counter
            log.exception("amending order %s failed", order_id)
            self.form.show_receipt(f"Not amended: {exc}")
            return
        self.form.reset()
        self.receipts.follow(PlacedOrder.of(check(command), AMENDED), receipt)

    def _run(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
