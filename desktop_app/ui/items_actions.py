"""What a clerk does with rows of a band tab: copy them, filter to their customer, see the orders behind one,
ask why one says what it says (Ctrl+H; the window's HistoryLauncher sets `show_history`).

Every text is the one the tab shows (`table_text`), money as £ from Decimal.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from desktop_app.query.views import ItemRow
from desktop_app.ui.items_tab import ItemsTableModel, ItemsView
from desktop_app.ui.table_text import rows_as_tsv

HISTORY_KEYS = (QKeySequence("Ctrl+H"),)


class RowActions:
    """Ctrl+C, Enter or a double-click (the orders behind the row) and a right-click menu on one tab's view."""

    def __init__(self, view: ItemsView, filter_to_customer: Callable[[str], None],
                 show_orders_behind: Callable[[ItemRow], None]) -> None:
        self.view = view
        self.model: ItemsTableModel = view.model()  # type: ignore[assignment]
        self._filter_to_customer = filter_to_customer
        self._show_orders_behind = show_orders_behind
        self.copy_action = QAction("&Copy rows", view, shortcut=QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_selected_rows)
        view.addAction(self.copy_action)
        self.orders_action = QAction("Show the &orders behind this row", view)
        self.orders_action.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
        self.orders_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.orders_action.triggered.connect(self.show_orders_behind_current_row)
        view.addAction(self.orders_action)
        view.doubleClicked.connect(self._show_orders_behind_index)
        self.show_history: Callable[[ItemRow], object] | None = None
        self.history_action = QAction("&Why this row?…", view)
        self.history_action.setShortcuts(list(HISTORY_KEYS))
        self.history_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.history_action.triggered.connect(self.show_history_of_current_row)
        view.addAction(self.history_action)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self.show_menu)
        self.menu: QMenu | None = None

    def selected_rows(self) -> list[ItemRow]:
        selection = self.view.selectionModel()
        rows = sorted({index.row() for index in selection.selectedRows()}) if selection is not None else []
        return [self.model.row_at(row) for row in rows if row < self.model.rowCount()]

    def show_orders_behind_current_row(self) -> None:
        self._show_orders_behind_index(self.view.currentIndex())

    def _show_orders_behind_index(self, index: QModelIndex) -> None:
        if index.isValid() and index.row() < self.model.rowCount():
            self._show_orders_behind(self.model.row_at(index.row()))

    def show_history_of_current_row(self) -> None:
        index = self.view.currentIndex()
        if self.show_history is not None and index.isValid() and index.row() < self.model.rowCount():
            self.show_history(self.model.row_at(index.row()))

    def copy_selected_rows(self) -> None:
        rows = self.selected_rows()
        if rows:
            QApplication.clipboard().setText(rows_as_tsv(self.model, rows))

    def show_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        selection = self.view.selectionModel()
        if not selection.isRowSelected(index.row(), index.parent()):
            self.view.selectRow(index.row())
        selection.setCurrentIndex(index, selection.SelectionFlag.NoUpdate)  # the row the menu's actions act on
        customer = self.model.row_at(index.row()).customer_id
        menu = QMenu(self.view)
        menu.addAction(self.orders_action)
        if self.show_history is not None:
            menu.addAction(self.history_action)
        menu.addAction(self.copy_action)
        show_only = menu.addAction(f"Show only {customer.replace('&', '&&')}'s items")
        show_only.triggered.connect(lambda: self._filter_to_customer(customer))
        self.menu = menu
        menu.popup(self.view.viewport().mapToGlobal(position))
