"""The Cancel order… confirmation: whose order, its total and its lines, and an optional reason.

Not modal to the application (opened with open(), never exec() under qasync). It judges nothing: the
command side's problems come back through `show_problems`, one line each, in the form's red.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from desktop_app.command.model import Problem
from desktop_app.query.orders_view import OrderLineRow, OrderRow
from desktop_app.ui.items_tab import format_pounds
from desktop_app.ui.order_form import ERROR_STYLE
from desktop_app.ui.orders_model import format_moment, short_id

MAX_REASON_SHOWN = 200  # the command side's limit, said in the placeholder; longer text is refused, not cut
LINES_SHOWN = 12  # more lines are summed up in one line


def line_text(line: OrderLineRow) -> str:
    return (f"{line.quantity:,} × {line.item} at {format_pounds(line.unit_price_pence)}"
            f" = {format_pounds(line.line_value_pence)}")


def confirmation_text(order: OrderRow, lines: Sequence[OrderLineRow]) -> str:
    """Names the customer, the total and the lines (rich text)."""
    count = "1 line" if order.line_count == 1 else f"{order.line_count:,} lines"
    shown = [f"<li>{escape(line_text(line))}</li>" for line in lines[:LINES_SHOWN]]
    if len(lines) > LINES_SHOWN:
        shown.append(f"<li>… and {len(lines) - LINES_SHOWN:,} more</li>")
    return (f"Cancel <b>{escape(order.customer_id)}</b>'s order {short_id(order.order_id)} of "
            f"{format_moment(order)}: {count}, total <b>{format_pounds(order.total_pence)}</b>?"
            f"<ul>{''.join(shown)}</ul>"
            "Its lines are taken off the tabs. A cancellation cannot be undone.")


class CancelDialog(QDialog):
    """Emits `confirmed(reason)`; stays open until the window calls `accept()` or shows problems."""

    confirmed = Signal(str)

    def __init__(self, parent: QWidget, order: OrderRow, lines: Sequence[OrderLineRow]) -> None:
        super().__init__(parent)
        self.order = order
        self.setWindowTitle("Cancel order")
        self.message = QLabel(confirmation_text(order, lines))
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(f"Reason (optional, up to {MAX_REASON_SHOWN} characters)")
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        # Plain buttons, not a QDialogButtonBox (which makes its accept button the default when shown):
        # Return in the reason box neither cancels the order nor closes the dialog; the clerk picks a button.
        self.cancel_button = QPushButton("&Cancel the order")
        self.keep_button = QPushButton("&Keep the order")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.cancel_button, self.keep_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        self.cancel_button.clicked.connect(self._confirm)
        self.keep_button.clicked.connect(self.reject)
        reason_label = QLabel("&Reason:")
        reason_label.setBuddy(self.reason)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(reason_label)
        layout.addWidget(self.reason)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.setMinimumWidth(460)

    def _confirm(self) -> None:
        self.cancel_button.setEnabled(False)  # one cancellation per click, until it is answered
        self.error.hide()
        self.confirmed.emit(self.reason.text())

    def show_problems(self, problems: Iterable[Problem | str]) -> None:
        """Why the order was not cancelled: one readable line each; the dialog stays for another try."""
        self.error.setText("\n".join(f"Not cancelled: {problem}" for problem in problems))
        self.error.show()
        self.cancel_button.setEnabled(True)
