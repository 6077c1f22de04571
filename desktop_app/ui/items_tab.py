"""One price-band tab: ItemsTableModel (a PagedRowsModel of ItemRow, sorted in SQL) and its view."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from desktop_app.query.bands import Band
from desktop_app.query.pounds import pence_to_decimal
from desktop_app.query.views import SORTABLE_COLUMNS, ItemRow
from desktop_app.ui.paged_model import PAGE_SIZE, PagedRowsModel
from desktop_app.ui.row_window import Identity, identity

__all__ = ["BAND_TITLES", "COLUMNS", "PAGE_SIZE", "ItemsTableModel", "ItemsView", "display_text", "format_pounds"]

BAND_TITLES = {Band.CHEAP: "Cheap", Band.AFFORDABLE: "Affordable", Band.EXPENSIVE: "Expensive"}  # tabs, chart, CSV
COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "Customer"),
    ("item", "Item"),
    ("unit_price_pence", "Unit price"),
    ("quantity", "Quantity"),
    ("line_value_pence", "Line value"),
    ("orders", "Orders"),
    ("last_ordered", "Last ordered"),
)
PRIMARY_KEY = ("customer_id", "item", "unit_price_pence")
NUMERIC = frozenset({"unit_price_pence", "quantity", "line_value_pence", "orders"})
# The read model sorts in SQL (the line value as quantity x unit price)
SORTABLE = frozenset(column for column, (name, _title) in enumerate(COLUMNS) if name in SORTABLE_COLUMNS)


class ItemsSource(Protocol):
    """The reads the model needs (query.views.ReadModel and QueryService provide them)."""

    def items(self, band: Band | str | None = None, customer: str | None = None, search: str | None = None,
              order_by: Sequence[str] = ..., descending: bool = False, limit: int | None = None,
              offset: int = 0) -> list[ItemRow]: ...

    def count_items(self, band: Band | str | None = None, customer: str | None = None,
                    search: str | None = None) -> int: ...

    def value_of_items(self, band: Band | str | None = None, customer: str | None = None,
                       search: str | None = None) -> int: ...

    def rows_for_keys(self, keys: Iterable[tuple[str, Band | str]]) -> list[ItemRow]: ...


def format_pounds(pence: int) -> str:
    return f"£{pence_to_decimal(pence):,}"


def format_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def display_text(row: ItemRow, name: str) -> str:
    """A cell as the tab shows it; copy and CSV export use the same text."""
    if name in ("unit_price_pence", "line_value_pence"):
        return format_pounds(getattr(row, name))
    if name == "last_ordered":
        return format_time(row.last_ordered)
    value = getattr(row, name)
    return f"{value:,}" if isinstance(value, int) else value


class ItemsTableModel(PagedRowsModel[ItemRow]):
    """Rows of one band. Loads pages as the view scrolls; applies changed keys without a reset."""

    columns = COLUMNS
    numeric = NUMERIC
    has_value = True  # the line values' total, for the footer

    def __init__(self, source: ItemsSource, band: Band, parent: Any = None,
                 reader: ThreadPoolExecutor | None = None) -> None:
        super().__init__(parent, reader, name=f"rows-{band.value}")
        self.source = source
        self.band = band

    def _order_by(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([COLUMNS[self.sort_column][0], *PRIMARY_KEY]))

    def read_page(self, filters: tuple[Any, ...], limit: int | None, offset: int) -> list[ItemRow]:
        customer, search, order_by, descending = filters
        return self.source.items(self.band, customer, search, order_by=order_by, descending=descending,
                                 limit=limit, offset=offset)

    def read_count(self, filters: tuple[Any, ...]) -> int:
        return self.source.count_items(self.band, filters[0], filters[1])

    def read_value(self, filters: tuple[Any, ...]) -> int:
        return self.source.value_of_items(self.band, filters[0], filters[1])

    def identity(self, row: ItemRow) -> Identity:
        return identity(row)

    def display_text(self, row: ItemRow, name: str) -> str:
        return display_text(row, name)

    def concerns(self, customer: str, band: Any) -> bool:
        return band == self.band and super().concerns(customer, band)

    def _beyond_loaded_pages(self, customer: str) -> bool:
        """True if every row of this customer sorts after the loaded pages (sorted by customer only):
        such rows need no re-read now; fetchMore brings them when the view scrolls there."""
        if self.sort_column != 0 or not self._rows or len(self._rows) >= self._total:
            return False
        last = self._rows[-1].customer_id
        return customer < last if self.descending else customer > last

    def extra_data(self, row: ItemRow, name: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and name == "last_ordered":
            return f"first ordered {format_time(row.first_ordered)}"
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        descending = order == Qt.SortOrder.DescendingOrder
        if column in SORTABLE and (column, descending) != (self.sort_column, self.descending):
            self.sort_column, self.descending = column, descending
            self.reload()


class ItemsView(QTableView):
    def __init__(self, model: ItemsTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        header = self.horizontalHeader()
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)  # the model's own order
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(24)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 220, 90, 80, 100, 70, 140)):
            self.setColumnWidth(column, width)
