"""The Orders tab: every order, newest first, with Cancel order…, Amend order… and Why this order?… on each.

Above the list, when it shows the orders behind one band row, a line says so with a way back to all orders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.query.orders_view import OrderRow
from desktop_app.ui.orders_model import OrdersTableModel, is_ended
from desktop_app.ui.table_text import rows_as_tsv

ORDERS_TITLE = "Orders"  # the tab, its View menu entry
CANCEL_KEYS = (QKeySequence(Qt.Key.Key_Delete),)
AMEND_KEYS = (QKeySequence("Ctrl+E"),)
HISTORY_KEYS = (QKeySequence("Ctrl+H"),)

OrderAction = Callable[[OrderRow], None]


class OrdersView(QTableView):
    def __init__(self, model: OrdersTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setSortingEnabled(False)  # newest first is the read model's one order for orders
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(24)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 160, 60, 110, 170, 90)):
            self.setColumnWidth(column, width)


class OrdersTab(QWidget):
    def __init__(self, model: OrdersTableModel, cancel: OrderAction, amend: OrderAction,
                 report: Callable[[str], None], parent: QWidget | None = None) -> None:
        """`report`: shows a one-line message in the window (the status bar)."""
        super().__init__(parent)
        self.model = model
        self.view = OrdersView(model)
        self._cancel, self._amend, self._report = cancel, amend, report
        self.behind_label = QLabel()
        self.show_all_button = QPushButton("Show &all orders")
        self.show_all_button.setToolTip("Back to every order (the customer filter and search apply again)")
        self.show_all_button.clicked.connect(lambda: model.show_behind(None))
        banner = QHBoxLayout()
        banner.setContentsMargins(4, 2, 4, 2)
        banner.addWidget(self.behind_label, 1)
        banner.addWidget(self.show_all_button)
        self.banner = QWidget()
        self.banner.setLayout(banner)
        self.banner.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)

        self.cancel_action = self._view_action("&Cancel order…", CANCEL_KEYS, self.cancel_current)
        self.amend_action = self._view_action("&Amend order…", AMEND_KEYS, self.amend_current)
        self.copy_action = self._view_action("Co&py", (QKeySequence(QKeySequence.StandardKey.Copy),),
                                             self.copy_current)
        self.show_history: OrderAction | None = None  # set by the window's HistoryLauncher
        self.history_action = self._view_action("&Why this order?…", HISTORY_KEYS, self.history_of_current)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self.show_menu)
        self.menu: QMenu | None = None
        model.modelReset.connect(self._show_banner)
        model.totalChanged.connect(self._show_banner)

    def _view_action(self, text: str, keys: tuple[QKeySequence, ...], slot: Callable[[], None]) -> QAction:
        action = QAction(text, self.view)
        action.setShortcuts(list(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # only while the list has the focus
        action.triggered.connect(slot)
        self.view.addAction(action)
        return action

    def _show_banner(self, *_args: object) -> None:
        behind = self.model.behind
        if behind is not None:
            count = self.model.total
            self.behind_label.setText(f"The {count:,} placed order{'s' if count != 1 else ''} behind {behind}")
        self.banner.setVisible(behind is not None)

    def current_order(self) -> OrderRow | None:
        """The selected order: what Delete and Ctrl+E act on is always the highlighted row, never a hidden
        current index."""
        selection = self.view.selectionModel()
        rows = [index.row() for index in selection.selectedRows()] if selection is not None else []
        if len(rows) != 1 or rows[0] >= self.model.rowCount():
            return None
        return self.model.row_at(rows[0])

    def focus_first_order(self) -> None:
        """The list focused with its first order selected, ready for the keyboard."""
        self.view.setFocus()
        if self.model.rowCount():
            self.view.selectRow(0)

    def cancel_current(self) -> None:
        if (order := self._chosen_order("cancel")) is not None:
            self._cancel(order)

    def amend_current(self) -> None:
        if (order := self._chosen_order("amend")) is not None:
            self._amend(order)

    def history_of_current(self) -> None:
        if self.show_history is not None and (order := self._chosen_order("explain")) is not None:
            self.show_history(order)

    def _chosen_order(self, verb: str) -> OrderRow | None:
        order = self.current_order()
        if order is None:
            self._report(f"Select the order to {verb} in the list first")
        return order

    def copy_current(self) -> None:
        if (order := self.current_order()) is not None:
            QApplication.clipboard().setText(rows_as_tsv(self.model, [order]))

    def show_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        self.view.selectRow(index.row())
        placed = not is_ended(self.model.row_at(index.row()))
        self.cancel_action.setEnabled(placed)
        self.amend_action.setEnabled(placed)
        menu = QMenu(self.view)
        menu.addAction(self.cancel_action)
        menu.addAction(self.amend_action)
        if self.show_history is not None:
            menu.addAction(self.history_action)
        menu.addSeparator()
        menu.addAction(self.copy_action)
        menu.aboutToHide.connect(self._enable_actions)  # the shortcuts always work; they explain a refusal
        self.menu = menu
        menu.popup(self.view.viewport().mapToGlobal(position))

    def _enable_actions(self) -> None:
        self.cancel_action.setEnabled(True)
        self.amend_action.setEnabled(True)
