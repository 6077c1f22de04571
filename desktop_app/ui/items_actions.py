"""What a clerk does with rows of a tab: copy them, filter to their customer, export the tab as CSV.

Every text is the one the tab shows (`items_tab.display_text`), money as £ from Decimal.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from desktop_app.query.views import ItemRow
from desktop_app.ui.items_tab import COLUMNS, ItemsTableModel, ItemsView, display_text

CSV_ENCODING = "utf-8-sig"  # with a byte-order mark, so spreadsheet programs read "£" right


def header() -> list[str]:
    return [title for _name, title in COLUMNS]


def shown_texts(row: ItemRow) -> list[str]:
    return [display_text(row, name) for name, _title in COLUMNS]


def rows_as_tsv(rows: Iterable[ItemRow]) -> str:
    """Tab-separated, header first. Labels cannot hold tabs or line breaks (the command side refuses them)."""
    lines = ["\t".join(header())] + ["\t".join(shown_texts(row)) for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(model: ItemsTableModel, path: Path) -> int:
    """The whole tab as shown (its filter and sort) to `path`; returns the number of rows written."""
    rows = model.all_rows()
    with open(path, "w", newline="", encoding=CSV_ENCODING) as file:
        writer = csv.writer(file)
        writer.writerow(header())
        writer.writerows(shown_texts(row) for row in rows)
    return len(rows)


class RowActions:
    """Ctrl+C and a right-click menu (copy rows, filter to this customer) on one tab's view."""

    def __init__(self, view: ItemsView, filter_to_customer: Callable[[str], None]) -> None:
        self.view = view
        self.model: ItemsTableModel = view.model()  # type: ignore[assignment]
        self._filter_to_customer = filter_to_customer
        self.copy_action = QAction("&Copy rows", view, shortcut=QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_selected_rows)
        view.addAction(self.copy_action)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self.show_menu)
        self.menu: QMenu | None = None

    def selected_rows(self) -> list[ItemRow]:
        selection = self.view.selectionModel()
        rows = sorted({index.row() for index in selection.selectedRows()}) if selection is not None else []
        return [self.model.row_at(row) for row in rows if row < self.model.rowCount()]

    def copy_selected_rows(self) -> None:
        rows = self.selected_rows()
        if rows:
            QApplication.clipboard().setText(rows_as_tsv(rows))

    def show_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        if not self.view.selectionModel().isRowSelected(index.row(), index.parent()):
            self.view.selectRow(index.row())
        customer = self.model.row_at(index.row()).customer_id
        menu = QMenu(self.view)
        menu.addAction(self.copy_action)
        show_only = menu.addAction(f"Show only {customer.replace('&', '&&')}'s items")
        show_only.triggered.connect(lambda: self._filter_to_customer(customer))
        self.menu = menu
        menu.popup(self.view.viewport().mapToGlobal(position))
