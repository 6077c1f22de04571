"""The order-entry panel. It collects fields; the command side validates them and says what is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.command.model import LineInput, PlaceOrder, Problem

ERROR_BACKGROUND = QBrush(QColor(255, 215, 215))
LINE_FIELD = re.compile(r"line\[(\d+)\]\.(item|price|quantity)")
LINE_COLUMNS = {"item": 0, "price": 1, "quantity": 2}
ERROR_STYLE = "color: #b00020;"


class OrderForm(QGroupBox):
    """Emits `orderRequested(PlaceOrder)`; shows problems next to their fields and the receipt's progress."""

    orderRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("New order", parent)
        self.customer = QComboBox()
        self.customer.setEditable(True)
        self.customer.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.customer.lineEdit().setPlaceholderText("Customer id, e.g. alice")
        self.customer.setMinimumWidth(220)
        completer = QCompleter(self.customer.model(), self.customer)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.customer.setCompleter(completer)
        self.customer_error = _error_label()

        self.lines = QTableWidget(0, 3)
        self.lines.setHorizontalHeaderLabels(["Item", "Unit price (£)", "Quantity"])
        header = self.lines.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.lines.verticalHeader().setDefaultSectionSize(26)
        self.lines.setMinimumHeight(150)
        self.lines_error = _error_label()

        self.add_line_button = QPushButton("&Add line")
        self.add_line_button.setToolTip("Add an order line (Ctrl+L)")
        self.remove_line_button = QPushButton("&Remove line")
        self.remove_line_button.setToolTip("Remove the selected line (Ctrl+Shift+L)")
        self.place_button = QPushButton("&Place order")
        self.place_button.setDefault(True)
        self.place_button.setToolTip("Place the order (Ctrl+Enter)")
        self.receipt = QLabel("")
        self.receipt.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.receipt.setWordWrap(True)

        form = QFormLayout()
        form.addRow("&Customer:", self.customer)
        form.addRow("", self.customer_error)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_line_button)
        buttons.addWidget(self.remove_line_button)
        buttons.addStretch(1)
        buttons.addWidget(self.place_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.lines, 1)
        layout.addWidget(self.lines_error)
        layout.addLayout(buttons)
        layout.addWidget(self.receipt)

        self.add_line_button.clicked.connect(self.add_line)
        self.remove_line_button.clicked.connect(self.remove_selected_line)
        self.place_button.clicked.connect(self.request_order)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.request_order, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Ctrl+L"), self, self.add_line, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Ctrl+Shift+L"), self, self.remove_selected_line,
                  context=Qt.ShortcutContext.WindowShortcut)
        self.add_line()

    # -- editing ---------------------------------------------------------------------------------
    def add_line(self, item: str = "", price: str = "", quantity: str = "1") -> int:
        row = self.lines.rowCount()
        self.lines.insertRow(row)
        for column, text in enumerate((item, price, quantity)):
            cell = QTableWidgetItem(text)
            if column > 0:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.lines.setItem(row, column, cell)
        self.lines.setCurrentCell(row, 0)
        return row

    def remove_selected_line(self) -> None:
        row = self.lines.currentRow()
        if row >= 0:
            self.lines.removeRow(row)
        if self.lines.rowCount() == 0:
            self.add_line()

    def set_line(self, row: int, item: str, price: str, quantity: str = "1") -> None:
        while self.lines.rowCount() <= row:
            self.add_line()
        for column, text in enumerate((item, price, quantity)):
            self.lines.item(row, column).setText(text)

    def set_customers(self, customers: Iterable[str]) -> None:
        text = self.customer.currentText()
        self.customer.blockSignals(True)
        self.customer.clear()
        self.customer.addItems(list(customers))
        self.customer.setEditText(text)
        self.customer.blockSignals(False)

    # -- the command -----------------------------------------------------------------------------
    def _cell(self, row: int, column: int) -> str:
        item = self.lines.item(row, column)
        return item.text() if item is not None else ""

    def command(self) -> PlaceOrder:
        """The order as typed. Wholly empty lines are skipped; nothing else is judged here."""
        lines = []
        for row in range(self.lines.rowCount()):
            item, price, quantity = (self._cell(row, column) for column in range(3))
            if not (item.strip() or price.strip()) and quantity.strip() in ("", "1"):
                continue
            lines.append(LineInput(item=item, price=price, quantity=quantity))
        return PlaceOrder(customer_id=self.customer.currentText(), lines=tuple(lines))

    def request_order(self) -> None:
        self.orderRequested.emit(self.command())

    # -- feedback --------------------------------------------------------------------------------
    def clear_problems(self) -> None:
        self.customer_error.clear()
        self.customer_error.hide()
        self.lines_error.clear()
        self.lines_error.hide()
        for row in range(self.lines.rowCount()):
            for column in range(3):
                cell = self.lines.item(row, column)
                if cell is not None:
                    cell.setBackground(QBrush())
                    cell.setToolTip("")

    def show_problems(self, problems: Iterable[Problem]) -> None:
        self.clear_problems()
        line_rows = self._typed_line_rows()
        customer_messages, line_messages = [], []
        for problem in problems:
            match = LINE_FIELD.fullmatch(problem.field)
            if problem.field == "customer":
                customer_messages.append(problem.message)
                continue
            line_messages.append(str(problem))
            if match:
                number, part = int(match[1]), match[2]
                if 1 <= number <= len(line_rows):
                    cell = self.lines.item(line_rows[number - 1], LINE_COLUMNS[part])
                    cell.setBackground(ERROR_BACKGROUND)
                    cell.setToolTip(problem.message)
        if customer_messages:
            self.customer_error.setText("Customer: " + "; ".join(customer_messages))
            self.customer_error.show()
        if line_messages:
            self.lines_error.setText("\n".join(line_messages))
            self.lines_error.show()
        self.receipt.setText("Not placed: please correct the fields marked in red.")

    def _typed_line_rows(self) -> list[int]:
        """Table rows that became command lines (problem numbers count these, 1-based)."""
        rows = []
        for row in range(self.lines.rowCount()):
            item, price, quantity = (self._cell(row, column) for column in range(3))
            if item.strip() or price.strip() or quantity.strip() not in ("", "1"):
                rows.append(row)
        return rows

    def reset(self) -> None:
        """After a successful order: empty fields, ready for the next one."""
        self.clear_problems()
        self.customer.setEditText("")
        self.lines.setRowCount(0)
        self.add_line()
        self.customer.setFocus()

    def show_receipt(self, text: str) -> None:
        self.receipt.setText(text)


def _error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label
