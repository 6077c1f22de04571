"""The order-entry panel. It collects fields; the command side validates them and says what is wrong."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from html import escape

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.command.model import LineInput, PlaceOrder, Problem
from desktop_app.ui.form_errors import ERROR_ROLE, ErrorCellDelegate, ErrorOutline

LINE_FIELD = re.compile(r"line\[(\d+)\]\.(item|price|quantity)")
LINE_COLUMNS = {"item": 0, "price": 1, "quantity": 2}
ERROR_STYLE = "color: #b00020;"
NOT_PLACED = "Not placed: please correct the fields marked in red."
NOT_AMENDED = "Not amended: please correct the fields marked in red."
NEW_ORDER_TITLE = "New order"
AMEND_STYLE = "background: #fff4d6; border: 1px solid #e0b040; padding: 4px;"
LINES_ERROR_RESERVED_LINES = 2  # space kept for line messages, so the table never moves when they come
RECEIPT_RESERVED_LINES = 2

Validator = Callable[[PlaceOrder], Iterable[Problem]]
Target = str | tuple[int, int]  # "customer", "lines" (the lines as a whole) or a (row, column) cell


class OrderForm(QGroupBox):
    """Emits `orderRequested(PlaceOrder)`; shows problems next to their fields and the receipt's progress.

    `validate` is the command side's validator: once problems are shown, each field in error is checked
    again as it is edited and its mark goes as soon as it is right. The form itself judges nothing.

    While `amending` holds an order id, the form edits that order's lines: it says so, its customer is fixed,
    and what it requests replaces that order (the window sends an amend); Abandon (Ctrl+N) leaves it.
    """

    orderRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None, validate: Validator | None = None) -> None:
        super().__init__(NEW_ORDER_TITLE, parent)
        self._validate = validate
        self.amending: uuid.UUID | None = None
        self._shown: dict[Target, str] = {}  # the problems on screen: "customer" and "lines" (cells: ERROR_ROLE)
        self._completed_by_popup = False
        self.customer = QComboBox()
        self.customer.setEditable(True)
        self.customer.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.customer.lineEdit().setPlaceholderText("Customer id, e.g. alice")
        self.customer.setMinimumWidth(220)
        # Customer ids are exact and case-sensitive: the completer only suggests. Case-sensitive matching
        # also keeps QComboBox from replacing what was typed by a differently-cased known id on Tab.
        completer = QCompleter(self.customer.model(), self.customer)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.customer.setCompleter(completer)
        self.customer_outline = ErrorOutline(self.customer)
        self.customer_error = _error_label(lines=1)
        self.customer_error.setWordWrap(False)
        policy = self.customer_error.sizePolicy()
        policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)  # a long message never widens the form
        policy.setVerticalPolicy(QSizePolicy.Policy.Fixed)
        self.customer_error.setSizePolicy(policy)

        self.lines = QTableWidget(0, 3)
        self.lines.setHorizontalHeaderLabels(["Item", "Unit price (£)", "Quantity"])
        self.lines.setItemDelegate(ErrorCellDelegate(self.lines))
        header = self.lines.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.lines.verticalHeader().setDefaultSectionSize(26)
        self.lines.setMinimumHeight(150)
        self.lines_error = _error_label(lines=LINES_ERROR_RESERVED_LINES)

        self.new_button = QPushButton("&New order")
        self.new_button.setToolTip("Clear the form for a new order (Ctrl+N)")
        self.add_line_button = QPushButton("&Add line")
        self.add_line_button.setToolTip("Add an order line (Ctrl+L)")
        self.remove_line_button = QPushButton("&Remove line")
        self.remove_line_button.setToolTip("Remove the selected line (Ctrl+Shift+L)")
        self.place_button = QPushButton("&Place order")
        self.place_button.setDefault(True)
        self.place_button.setToolTip("Place the order (Ctrl+Enter, or Return in the customer box)")
        self.receipt = QLabel("")
        self.receipt.setTextFormat(Qt.TextFormat.RichText)
        self.receipt.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.receipt.setWordWrap(True)
        self.receipt.setMinimumHeight(self.receipt.fontMetrics().lineSpacing() * RECEIPT_RESERVED_LINES)

        self.amend_banner = QLabel()
        self.amend_banner.setStyleSheet(AMEND_STYLE)
        self.amend_banner.setTextFormat(Qt.TextFormat.RichText)
        banner_policy = self.amend_banner.sizePolicy()
        banner_policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)  # wraps to the form; never widens it
        self.amend_banner.setSizePolicy(banner_policy)
        self.amend_banner.setWordWrap(True)
        self.amend_banner.hide()

        form = QFormLayout()
        form.addRow("&Customer:", self.customer)
        form.addRow("", _space_kept_for(self.customer_error))
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.add_line_button)
        buttons.addWidget(self.remove_line_button)
        buttons.addStretch(1)
        buttons.addWidget(self.place_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.amend_banner)
        layout.addLayout(form)
        layout.addWidget(self.lines, 1)
        layout.addWidget(self.lines_error)
        layout.addLayout(buttons)
        layout.addWidget(self.receipt)

        self.new_button.clicked.connect(self.new_order)
        self.add_line_button.clicked.connect(self.add_line)
        self.remove_line_button.clicked.connect(self.remove_selected_line)
        self.place_button.clicked.connect(self.request_order)
        completer.activated.connect(self._completed_from_popup)
        self.customer.lineEdit().returnPressed.connect(self._customer_return)
        self.customer.lineEdit().textEdited.connect(self._recheck_shown_problems)
        self.lines.itemChanged.connect(self._recheck_shown_problems)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.request_order, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Ctrl+L"), self, self.add_line, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence("Ctrl+Shift+L"), self, self.remove_selected_line,
                  context=Qt.ShortcutContext.WindowShortcut)
        self.add_line()

    # -- editing ---------------------------------------------------------------------------------
    def add_line(self, item: str = "", price: str = "", quantity: str = "1") -> int:
        row = self.lines.rowCount()
        self.lines.blockSignals(True)  # a new blank line is no edit to re-check
        self.lines.insertRow(row)
        for column, text in enumerate((item, price, quantity)):
            cell = QTableWidgetItem(text)
            if column > 0:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.lines.setItem(row, column, cell)
        self.lines.blockSignals(False)
        # ClearAndSelect: Ctrl is still held when Ctrl+L fires, which would add the new cell to the selection
        self.lines.setCurrentCell(row, 0, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        return row

    def remove_selected_line(self) -> None:
        row = self.lines.currentRow()
        if row >= 0:
            self.lines.removeRow(row)
        if self.lines.rowCount() == 0:
            self.add_line()
        self._recheck_shown_problems()  # line numbers after the removed one moved up

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

    def _completed_from_popup(self, _text: str) -> None:
        # The completer forwards the Return that chose a suggestion to the line edit: that Return only
        # chooses, it does not place the order.
        self._completed_by_popup = True
        QTimer.singleShot(0, lambda: setattr(self, "_completed_by_popup", False))

    def _customer_return(self) -> None:
        if not self._completed_by_popup:
            self.request_order()

    # -- reading the form ------------------------------------------------------------------------
    def _commit_open_editor(self) -> None:
        """A cell editor keeps what was typed until it commits: commit it before the form is read."""
        if self.lines.state() != QAbstractItemView.State.EditingState:
            return
        editor = self.lines.indexWidget(self.lines.currentIndex())
        if editor is not None:
            self.lines.commitData(editor)
            self.lines.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)

    def _cell(self, row: int, column: int) -> str:
        item = self.lines.item(row, column)
        return item.text() if item is not None else ""

    def _row_texts(self, row: int) -> tuple[str, str, str]:
        return self._cell(row, 0), self._cell(row, 1), self._cell(row, 2)

    def _typed_line_rows(self) -> list[int]:
        """Table rows that become command lines (problem numbers count these, 1-based). A row with no
        item, no price and the default quantity is an unused line, not an order line."""
        rows = []
        for row in range(self.lines.rowCount()):
            item, price, quantity = self._row_texts(row)
            if item.strip() or price.strip() or quantity.strip() not in ("", "1"):
                rows.append(row)
        return rows

    def _as_typed(self) -> PlaceOrder:
        lines = tuple(LineInput(*self._row_texts(row)) for row in self._typed_line_rows())
        return PlaceOrder(customer_id=self.customer.currentText(), lines=lines)

    def command(self) -> PlaceOrder:
        """The order as typed, open cell editor included. The one place the form is read for an order:
        the button, Ctrl+Enter and Return all come here."""
        self._commit_open_editor()
        return self._as_typed()

    def request_order(self) -> None:
        self.orderRequested.emit(self.command())

    def has_unplaced_input(self) -> bool:
        """True when something is typed that has not been placed (the form is not as `reset` leaves it)."""
        self._commit_open_editor()
        return self.amending is not None or bool(self.customer.currentText().strip() or self._typed_line_rows())

    # -- feedback --------------------------------------------------------------------------------
    def _targets(self, problems: Iterable[Problem]) -> list[tuple[Target, str, str]]:
        """Each problem as (where it is shown, its message, its text in the lines summary)."""
        line_rows = self._typed_line_rows()
        targets: list[tuple[Target, str, str]] = []
        for problem in problems:
            if problem.field == "customer":
                targets.append(("customer", problem.message, ""))
                continue
            match = LINE_FIELD.fullmatch(problem.field)
            if match and 1 <= int(match[1]) <= len(line_rows):
                cell = (line_rows[int(match[1]) - 1], LINE_COLUMNS[match[2]])
                targets.append((cell, problem.message, str(problem)))
            else:
                targets.append(("lines", str(problem), str(problem)))
        return targets

    def _cells_in_error(self) -> set[tuple[int, int]]:
        return {(row, column) for row in range(self.lines.rowCount()) for column in range(3)
                if (item := self.lines.item(row, column)) is not None and item.data(ERROR_ROLE)}

    def _show(self, targets: list[tuple[Target, str, str]]) -> None:
        """Mark exactly these targets (and clear every other mark)."""
        cells = {target: message for target, message, _ in targets if isinstance(target, tuple)}
        self.lines.blockSignals(True)  # marking a cell is no edit
        for row in range(self.lines.rowCount()):
            for column in range(3):
                item = self.lines.item(row, column)
                if item is not None:
                    message = cells.get((row, column))
                    item.setData(ERROR_ROLE, message)
                    item.setToolTip(message or "")
        self.lines.blockSignals(False)
        self._shown = {target: message for target, message, _ in targets if isinstance(target, str)}
        customer = "; ".join(message for target, message, _ in targets if target == "customer")
        self.customer_error.setText(f"Customer: {customer}" if customer else "")
        self.customer_error.setToolTip(self.customer_error.text())
        self.customer_error.setVisible(bool(customer))
        self.customer_outline.set_shown(bool(customer))
        summary = "\n".join(text for target, _, text in targets if target != "customer")
        self.lines_error.setText(summary)
        self.lines_error.setVisible(bool(summary))
        self.lines.viewport().update()
        if targets:
            self.receipt.setText(NOT_PLACED if self.amending is None else NOT_AMENDED)
            self.receipt.setToolTip("")  # the last order's details no longer match the text
        elif self.receipt.text() in (NOT_PLACED, NOT_AMENDED):
            self.receipt.setText("")

    def clear_problems(self) -> None:
        self._show([])

    def show_problems(self, problems: Iterable[Problem]) -> None:
        self._show(self._targets(problems))

    def _recheck_shown_problems(self, *_args: object) -> None:
        """After an edit: keep only the marks whose field is still wrong (with its current message).
        Fields not marked yet stay unmarked until the next attempt to place the order."""
        marked = set(self._shown) | self._cells_in_error()
        if not marked:
            return
        current = self._targets(self._validate(self._as_typed())) if self._validate is not None else []
        self._show([target for target in current if target[0] in marked])

    def start_amend(self, order_id: uuid.UUID, customer_id: str, lines: Iterable[tuple[str, str, str]]) -> None:
        """Open an order's lines for amending: the next request replaces that order."""
        self.reset()
        self.amending = order_id
        self.setTitle(f"Amend order {str(order_id)[:8]}")
        self.amend_banner.setText(f"Amending {escape(customer_id)}'s order {str(order_id)[:8]}: "
                                  "<b>Amend order</b> replaces it with these lines; "
                                  "<b>Abandon</b> (Ctrl+N) leaves it as it was.")
        self.amend_banner.show()
        self.customer.setEditText(customer_id)
        self.customer.setEnabled(False)  # an amend keeps the order's customer
        self.lines.setRowCount(0)
        for item, price, quantity in lines:
            self.add_line(item, price, quantity)
        if self.lines.rowCount() == 0:
            self.add_line()
        self.place_button.setText("A&mend order")
        self.place_button.setToolTip("Replace the order with these lines (Ctrl+Enter)")
        self.new_button.setText("A&bandon")
        self.new_button.setToolTip("Leave the order as it was and clear the form (Ctrl+N)")
        self.lines.setFocus()

    def _end_amend(self) -> None:
        self.amending = None
        self.setTitle(NEW_ORDER_TITLE)
        self.amend_banner.hide()
        self.customer.setEnabled(True)
        self.place_button.setText("&Place order")
        self.place_button.setToolTip("Place the order (Ctrl+Enter, or Return in the customer box)")
        self.new_button.setText("&New order")
        self.new_button.setToolTip("Clear the form for a new order (Ctrl+N)")

    def reset(self) -> None:
        """After a successful order, or for a new one: empty fields, ready for the next one (an amend ends)."""
        if self.amending is not None:
            self._end_amend()
        self.clear_problems()
        self.customer.setEditText("")
        self.lines.setRowCount(0)
        self.add_line()
        self.customer.setFocus()

    def new_order(self) -> None:
        """The *New order* button: drop what is typed (the last receipt stays)."""
        self._commit_open_editor()
        self.reset()

    def show_receipt(self, text: str, details: str = "") -> None:
        self.receipt.setText(text)
        self.receipt.setToolTip(details)


def _space_kept_for(label: QLabel) -> QWidget:
    """A holder that keeps the label's space while it is hidden (a form layout drops hidden rows)."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(label)
    holder.setFixedHeight(label.minimumHeight())
    return holder


def _error_label(lines: int) -> QLabel:
    """An error label whose space is kept while hidden, so the fields below never move."""
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setMinimumHeight(label.fontMetrics().lineSpacing() * lines)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    policy = label.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    label.setSizePolicy(policy)
    label.hide()
    return label
